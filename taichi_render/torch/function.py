"""The `torch.autograd.Function` that puts the renderer in a torch graph.

Forward writes the tensors into the scene parameters, renders, and copies the image field to a
tensor. Backward restores the parameter values of its own forward call (so several renders
before one ``backward()`` work) and the sample weights of its image (kept by swapping the
film's weight array, not copied), runs the path-replay adjoint pass on the image adjoint tensor
in place, and returns the parameter gradients as tensors.
"""

from __future__ import annotations

import torch

from ..ad.params import traverse, values_version
from ..backend import ensure_init, torch_device
from ..render import renderer as R
from .openmp import release_idle_workers


def _as_parameter(key: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"scene parameter {key!r} must be a torch.Tensor, got {type(value).__name__}")
    if value.is_complex() or not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"scene parameter {key!r} must be a real tensor, got dtype {value.dtype}")
    return value


def _apply_values(params, keys, values) -> None:
    """Write one call's tensors into the parameters, all or nothing (a rejected value leaves
    every parameter as it was)."""
    params.update({k: v.detach().to("cpu", torch.float32) for k, v in zip(keys, values)})


class _RenderFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, info: dict, *values):
        params, keys = info["params"], info["keys"]
        _apply_values(params, keys, values)
        info["values_version"] = values_version(info["scene"])
        release_idle_workers()  # torch's spinning OpenMP workers would share the cores (openmp.py)
        image = R.render(info["scene"], params, info["sensor"], info["spp"], info["seed"], info["seed_grad"])
        buf = R.film_buffers(R.get_sensor(info["scene"], info["sensor"]))
        ctx.info = info
        # the sample weights this image was normalised with: the film hands its array over and
        # renders on into another (no copy), backward gives it back
        ctx.weight = buf.take_weight()
        ctx.save_for_backward(*values)
        return image.to_torch(device=info["device"])

    @staticmethod
    def backward(ctx, grad_image):
        info = ctx.info
        values = ctx.saved_tensors
        wanted = [needs for needs in ctx.needs_input_grad[1:]]
        if not any(wanted):
            return (None, *([None] * len(values)))
        params, keys, scene = info["params"], info["keys"], info["scene"]
        if values_version(scene) != info["values_version"]:
            _apply_values(params, keys, values)  # this call's values: another render changed them
        sensor = R.get_sensor(scene, info["sensor"])
        buf = R.film_buffers(sensor)
        # the image adjoint is read in place by the adjoint kernel
        image_grad = grad_image.detach().to(torch_device(), torch.float32).contiguous()
        buf.restore_weight(ctx.weight)
        data = R.scene_data(scene)
        params._note_gradients([key for key, needs in zip(keys, wanted) if needs])
        data.zero_gradients()
        release_idle_workers()
        R.launch(scene, sensor, info["spp"], info["seed_grad"], "adjoint", image_grad=image_grad)
        grads = []
        for key, value, needs in zip(keys, values, wanted):
            if not needs:
                grads.append(None)
                continue
            g = torch.from_numpy(params.grad(key)).reshape(value.shape)
            grads.append(g.to(device=value.device, dtype=value.dtype))
        return (None, *grads)


def render(scene, params=None, spp=None, seed: int = 0, seed_grad=None, malloc_trim: bool = False,
           sensor=0, **tensors) -> torch.Tensor:
    """Render with tensors substituted for scene parameters; differentiable in those tensors.

    Args:
        scene: a loaded scene (``prb`` or ``path`` integrator for gradients).
        params: ``tr.traverse(scene)`` (made once per scene when None).
        spp, seed, seed_grad: as ``tr.render`` (seed_grad: derived from seed when None).
        malloc_trim: empty torch's CUDA cache first (Mitsuba 2's switch for sharing GPU memory).
        sensor: sensor index.
        **tensors: ``{key: tensor}``; float64, integer and non-contiguous tensors are converted
            to float32; CPU and CUDA tensors both work (values pass through the host).
    Returns:
        ``torch.Tensor`` (height, width, 3) float32, on the device of the first tensor given
        (else Taichi's device). Works under ``torch.no_grad()``.
    """
    ensure_init()
    if params is None:
        state = R.render_state(scene)
        if state.default_parameters is None:
            state.default_parameters = traverse(scene)
        params = state.default_parameters
    keys = list(tensors)
    values = [_as_parameter(k, tensors[k]) for k in keys]
    for key in keys:
        params[key]  # KeyError naming unknown keys before anything changes
    device = values[0].device if values else torch.device(torch_device())
    if malloc_trim and torch.cuda.is_available():
        torch.cuda.empty_cache()
    sensor_obj = R.get_sensor(scene, sensor)
    spp, seed = R.check_spp_seed(sensor_obj, spp, seed)
    if seed_grad is None:
        seed_grad = R.derive_seed_grad(seed)
    info = {"scene": scene, "params": params, "keys": keys, "spp": spp, "seed": seed,
            "seed_grad": int(seed_grad), "sensor": sensor, "device": device}
    return _RenderFunction.apply(info, *values)
