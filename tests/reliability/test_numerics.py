"""Numerically nasty scenes render and differentiate without a single NaN or inf.

Grazing angles, degenerate triangles, zero-area lights, IOR 1.0, tiny and huge radiance,
near-delta roughness and black or spiky environment maps: for each scene the image, the loss
and the gradient of every differentiable key (through ``ti.ad.Tape`` and through
``taichi_render.torch``) are finite. A zero-area light may also be rejected at load time with a
`SceneError` naming its ``to_world`` (a singular transform), never turned into NaN.

"Huge" is bounded by float32: with radiance 1e15 the MSE (~1e30) is representable; with 1e30 the
squared error is not (loss = inf is then the honest answer), so that case uses the L1 loss,
whose gradients are again representable.
"""

from __future__ import annotations

import numpy as np
import pytest
import taichi as ti
import torch

import taichi_render as tr
import taichi_render.torch as trt
from taichi_render.core.errors import SceneError

T = tr.ScalarTransform4f
RES, SPP = 16, 4


def base():
    return {
        "type": "scene",
        "integrator": {"type": "prb", "max_depth": 5},
        "sensor": {
            "type": "perspective",
            "fov": 45,
            "to_world": T.look_at([0, 0, 4], [0, 0, 0], [0, 1, 0]),
            "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}},
            "sampler": {"type": "independent", "sample_count": SPP},
        },
        "white": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.7, 0.7, 0.7]}},
    }


def rgb(value) -> dict:
    return {"type": "rgb", "value": [value] * 3 if np.isscalar(value) else list(value)}


def probe(bsdf=None, radiance=10.0, env=0.5, light=None, **extra):
    """A sphere on a textured floor under an area light, in a constant environment."""
    d = base()
    d["sph"] = {"type": "sphere", "radius": 1.0, "bsdf": bsdf or {"type": "ref", "id": "white"}}
    texels = np.linspace(0.1, 0.9, 48, dtype=np.float32).reshape(4, 4, 3)
    d["floor"] = {
        "type": "rectangle",
        "to_world": T.translate([0, -1, 0]).rotate([1, 0, 0], -90).scale(4),
        "bsdf": {"type": "diffuse", "reflectance": {"type": "bitmap", "data": texels}},
    }
    d["light"] = light if light is not None else area(
        {"type": "rectangle", "to_world": DOWN.scale(0.5)}, radiance)
    if env is not None:
        d["env"] = {"type": "constant", "radiance": rgb(env)}
    d.update(extra)
    return d


def area(shape: dict, radiance=10.0) -> dict:
    return {**shape, "emitter": {"type": "area", "radiance": rgb(radiance)}}


DOWN = T.translate([0, 3, 0]).rotate([1, 0, 0], 90)  # facing -y, 3 above the origin


def grazing_camera():
    d = probe()
    d["sensor"]["to_world"] = T.look_at([0, -0.99999, 5], [0, -0.99999, -5], [0, 1, 0])
    return d


def ior(bsdf):
    return lambda: probe(bsdf)


def envmap(data):
    return lambda: probe(env=None, envmap={"type": "envmap", "data": data})


def _spike():
    data = np.zeros((8, 16, 3), np.float32)
    data[2, 5] = 1e6
    return data


EDGE_ON = T.translate([0, -0.999, 2.5]).rotate([1, 0, 0], -89.999)
UNIT_ETA = {"eta": rgb(1.0), "k": rgb(0.0)}

SCENES = {
    "probe": lambda: probe(),
    "grazing-camera": grazing_camera,
    "grazing-area-light": lambda: probe(light=area({"type": "rectangle", "to_world": EDGE_ON})),
    "grazing-point-light": lambda: probe(env=None, light={
        "type": "point", "position": [0, -1 + 1e-5, 3], "intensity": rgb(50.0)}),
    "zero-area-rectangle-light": lambda: probe(
        light=area({"type": "rectangle", "to_world": DOWN.scale(1e-20)})),
    "sliver-rectangle-light": lambda: probe(
        light=area({"type": "rectangle", "to_world": DOWN.scale([1, 1e-30, 1])})),
    "zero-area-disk-light": lambda: probe(
        light=area({"type": "disk", "to_world": DOWN.scale(1e-20)})),
    "tiny-sphere-light": lambda: probe(
        light=area({"type": "sphere", "center": [0, 3, 0], "radius": 1e-20})),
    "ior-1-dielectric": ior({"type": "dielectric", "int_ior": 1.0, "ext_ior": 1.0}),
    "ior-nearly-1-dielectric": ior({"type": "dielectric", "int_ior": 1.0000001, "ext_ior": 1.0}),
    "ior-1-thindielectric": ior({"type": "thindielectric", "int_ior": 1.0, "ext_ior": 1.0}),
    "ior-1-plastic": ior({"type": "plastic", "int_ior": 1.0, "ext_ior": 1.0}),
    "ior-1-twosided-plastic": ior({"type": "twosided",
                                   "bsdf": {"type": "plastic", "int_ior": 1.0}}),
    "eta-1-conductor": ior({"type": "conductor", **UNIT_ETA}),
    "eta-1-roughconductor-near-delta": ior({"type": "roughconductor", "alpha": 1e-4, **UNIT_ETA}),
    "roughconductor-alpha-1": ior({"type": "roughconductor", "alpha": 1.0}),
    "ior-1-roughplastic": ior({"type": "roughplastic", "int_ior": 1.0, "ext_ior": 1.0}),
    "roughplastic-near-delta": ior({"type": "roughplastic", "distribution": "ggx", "alpha": 1e-4}),
    "roughplastic-alpha-1": ior({"type": "roughplastic", "alpha": 1.0, "nonlinear": True}),
    "tiny-radiance": lambda: probe(radiance=1e-30, env=1e-30),
    "huge-radiance": lambda: probe(radiance=1e15, env=1e15),
    "black-envmap": envmap(np.zeros((4, 8, 3), np.float32)),
    "spiky-envmap": envmap(_spike()),
}
HUGE_L1 = {"huge-radiance-l1": lambda: probe(radiance=1e30, env=1e30)}


def _mesh_scenes(tmp_path):
    mixed = tmp_path / "mixed.obj"
    mixed.write_text("v -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\nv 0 0 0\n"
                     "f 1 2 3\nf 1 3 4\nf 1 1 2\nf 5 5 5\nf 1 3 5\n")
    flat = tmp_path / "flat.obj"
    flat.write_text("v -1 -1 0\nv 1 -1 0\nv 2 -1 0\nf 1 2 3\nf 1 1 1\nf 2 2 3\n")
    near = T.translate([0, 0, 1.5]).scale(0.5)
    return {
        "degenerate-triangles": lambda: probe(
            mesh={"type": "obj", "filename": str(mixed), "to_world": near},
            light=area({"type": "obj", "filename": str(mixed), "to_world": DOWN})),
        "all-degenerate-mesh-light": lambda: probe(
            light=area({"type": "obj", "filename": str(flat), "to_world": DOWN})),
    }


def gradient_keys(params) -> list[str]:
    """Every differentiable key whose gradient the library provides."""
    keys = []
    for key in params:
        if params.is_differentiable(key):
            try:
                params.enable_grad([key])
                params.grad(key)
            except NotImplementedError:
                continue
            keys.append(key)
    return keys


def assert_finite(what, array):
    array = np.asarray(array)
    bad = ~np.isfinite(array)
    assert not bad.any(), f"{what}: {int(bad.sum())} non-finite of {array.size}"


def check_scene(d, loss_fn=tr.ad.mse):
    try:
        scene = tr.load_dict(d)
    except SceneError as exc:  # a degenerate transform may be refused: it must say which
        assert "to_world" in str(exc), exc
        return None
    params = tr.traverse(scene)
    keys = gradient_keys(params)
    assert keys, "no differentiable key to check"
    loss = tr.ad.loss_field()
    target = np.full((RES, RES, 3), 0.25, np.float32)
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=SPP, seed=7)
        loss_fn(image, target, out=loss)
    assert_finite("image", image.to_numpy())
    assert_finite("loss", loss[None])
    for key in keys:
        assert_finite(f"d loss / d {key}", params.grad(key))
    return scene, params, keys, target


def check_torch(scene, params, keys, target, loss="mse"):
    tensors = {k: torch.from_numpy(params[k]).requires_grad_(True) for k in keys}
    image = trt.render(scene, params, spp=SPP, seed=7, **tensors)
    assert_finite("torch image", image.detach().numpy())
    diff = image - torch.from_numpy(target)
    value = (diff * diff).mean() if loss == "mse" else diff.abs().mean()
    value.backward()
    assert_finite("torch loss", value.detach().numpy())
    for key, t in tensors.items():
        assert t.grad is not None, key
        assert_finite(f"torch d loss / d {key}", t.grad.numpy())


@pytest.mark.parametrize("name", sorted(SCENES))
def test_render_and_gradients_are_finite(name):
    result = check_scene(SCENES[name]())
    if result is not None:
        check_torch(*result)


def test_huge_radiance_with_l1_loss_is_finite():
    result = check_scene(HUGE_L1["huge-radiance-l1"](), loss_fn=tr.ad.l1)
    assert result is not None
    check_torch(*result, loss="l1")


@pytest.mark.parametrize("name", ["degenerate-triangles", "all-degenerate-mesh-light"])
def test_degenerate_meshes_render_and_differentiate(tmp_path, name):
    result = check_scene(_mesh_scenes(tmp_path)[name]())
    assert result is not None
    check_torch(*result)


@pytest.mark.parametrize("scale", [[0, 1, 1], 0.0])
def test_singular_light_transform_is_refused_by_name(scale):
    """A rectangle light squashed to nothing: SceneError naming to_world (or a finite render)."""
    check_scene(probe(light=area({"type": "rectangle", "to_world": DOWN.scale(scale)})))


@pytest.mark.parametrize("collapse", ["point", "segment"])
def test_light_collapsed_by_a_parameter_update(collapse):
    """What an optimization of vertex positions can do: squash the Cornell box light to zero
    area. The next renders and gradients stay finite (the light just stops contributing)."""
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    v = params["light.vertex_positions"].reshape(-1, 3)
    v = np.tile(v[0], (len(v), 1)) if collapse == "point" else np.stack([v[0], v[1], v[1], v[0]])
    params["light.vertex_positions"] = v.ravel()
    params.update()
    keys = gradient_keys(params)
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=SPP, seed=3)
        tr.ad.mse(image, np.full((RES, RES, 3), 0.25, np.float32), out=loss)
    assert_finite("image", image.to_numpy())
    assert_finite("loss", loss[None])
    for key in keys:
        assert_finite(f"d loss / d {key}", params.grad(key))


def test_optimizer_never_sees_nan_over_a_few_steps():
    """An Adam loop on the nastiest scene stays finite (values, gradients, loss)."""
    d = SCENES["grazing-area-light"]()
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    key = "light.emitter.radiance.value"
    opt = tr.ad.Adam(lr=0.5)
    opt[key] = params[key]
    params.update(opt)
    loss = tr.ad.loss_field()
    target = np.full((RES, RES, 3), 0.25, np.float32)
    for it in range(5):
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=1, seed=it)
            tr.ad.mse(image, target, out=loss)
        assert_finite("gradient", params.grad(key))
        opt.step()
        params.update(opt)
        assert_finite("loss", loss[None])
        assert_finite("value", params[key])
