"""`RenderLayer`: the renderer as a `torch.nn.Module`."""

from __future__ import annotations

import torch

from ..ad.params import traverse
from .function import render


class RenderLayer(torch.nn.Module):
    """A layer whose ``forward(**tensors)`` renders `scene` with the given parameter tensors.

    Args:
        scene: a loaded scene.
        keys: the parameter keys the layer accepts (others raise ``KeyError``).
        spp: samples per pixel (default: the scene's sampler).
        seed: fixed seed, or None (default) for a new seed at every call (fresh noise per
            training step, as Mitsuba tutorials pass ``seed=it``).
        seed_grad: seed of the adjoint pass (default: derived from the seed).

    Example::

        layer = trt.RenderLayer(scene, ["textured_plane.bsdf.brdf_0.reflectance.data"], spp=4)
        image = layer(**{"textured_plane.bsdf.brdf_0.reflectance.data": texture})  # (H, W, 3)
    """

    def __init__(self, scene, keys, spp=None, seed=None, seed_grad=None, params=None):
        super().__init__()
        self.scene = scene
        self.params = params if params is not None else traverse(scene)
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        for key in self.keys:
            self.params[key]  # validates the keys now
        self.spp, self.seed, self.seed_grad = spp, seed, seed_grad
        self.calls = 0

    def forward(self, *args, sensor=0, seed=None, **tensors) -> torch.Tensor:
        """Render with ``{key: tensor}``; a layer built for one key also takes that tensor
        positionally, so it can sit in ``torch.nn.Sequential``. `sensor`: index (or sensor
        plugin) of the sensor to render, as in ``tr.render``. `seed`: this call's seed
        (default: the layer's fixed seed, else the number of calls so far); data-parallel
        loops pass ``trt.distributed.render_seed(step, view, n)`` so that a view draws the same
        noise on any number of ranks."""
        if args:
            if len(args) != 1 or len(self.keys) != 1 or tensors:
                raise TypeError("RenderLayer takes one positional tensor only when built for exactly one key")
            tensors = {self.keys[0]: args[0]}
        unknown = set(tensors) - set(self.keys)
        if unknown:
            raise KeyError(f"RenderLayer got keys it was not built for: {sorted(unknown)}")
        if seed is None:
            seed = self.calls if self.seed is None else self.seed
        self.calls += 1
        return render(self.scene, self.params, spp=self.spp, seed=seed, seed_grad=self.seed_grad, sensor=sensor,
                      **tensors)

    def extra_repr(self) -> str:
        return f"keys={self.keys}, spp={self.spp}"
