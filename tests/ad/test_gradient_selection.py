"""Adjoint launches compute the gradients of the marked parameters only (params.enable_grad,
an optimizer given to params.update, the keys of the torch bridge), as Mitsuba does; a scene
with no marked key gets every texture's gradient. The marked gradients are those of an
all-textures launch, up to the order of float additions."""

import warnings

import numpy as np
import pytest
import taichi as ti
import torch

import taichi_render as tr
import taichi_render.torch as trt
from taichi_render.render.state import render_state

RES = 16
CHECKER = {"type": "checkerboard", "color0": {"type": "rgb", "value": [0.8, 0.2, 0.2]},
           "color1": {"type": "rgb", "value": [0.2, 0.7, 0.3]}}


def cbox(checkerboard=False):
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    d["integrator"] = {"type": "prb", "max_depth": 4}
    if checkerboard:
        d["white"]["reflectance"] = CHECKER
    return tr.load_dict(d)


def gradients(scene, params, keys, seed=1):
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=4, seed=seed)
        tr.ad.mse(image, np.zeros((RES, RES, 3), np.float32), out=loss)
    return {key: params.grad(key).copy() for key in keys}


KEYS = ["red.reflectance.value", "green.reflectance.value", "light.emitter.radiance.value"]


@pytest.mark.parametrize("marked", [["red.reflectance.value"], ["green.reflectance.value",
                                                                "light.emitter.radiance.value"]])
def test_only_marked_keys_get_gradients(marked):
    scene_all = cbox()
    everything = gradients(scene_all, tr.traverse(scene_all), KEYS)
    assert all(np.abs(g).sum() > 0 for g in everything.values())  # nothing marked: every texture
    scene = cbox()
    params = tr.traverse(scene)
    params.enable_grad(marked)
    selected = gradients(scene, params, KEYS)
    for key in KEYS:
        if key in marked:
            np.testing.assert_allclose(selected[key], everything[key], rtol=1e-5, err_msg=key)
        else:
            assert np.array_equal(selected[key], np.zeros(3, np.float32)), key


def test_checkerboard_colour_marked_alone():
    keys = ["white.reflectance.color0.value", "white.reflectance.color1.value", "red.reflectance.value"]
    scene_all = cbox(checkerboard=True)
    everything = gradients(scene_all, tr.traverse(scene_all), keys)
    scene = cbox(checkerboard=True)
    params = tr.traverse(scene)
    params.enable_grad(keys[0])
    selected = gradients(scene, params, keys)
    assert np.abs(everything[keys[0]]).sum() > 0
    np.testing.assert_allclose(selected[keys[0]], everything[keys[0]], rtol=1e-5)
    assert not selected[keys[1]].any() and not selected[keys[2]].any()


def test_bitmap_texels_marked_alone(scenes_dir):
    key = "textured_plane.bsdf.brdf_0.reflectance.data"
    scene_all = tr.load_file(scenes_dir / "glass_sphere.xml", res=RES)
    params_all = tr.traverse(scene_all)
    other = [k for k in params_all if k.endswith(".data") and k != key] + [key]
    everything = gradients(scene_all, params_all, other)
    scene = tr.load_file(scenes_dir / "glass_sphere.xml", res=RES)
    params = tr.traverse(scene)
    params.enable_grad(key)
    selected = gradients(scene, params, other)
    assert np.abs(everything[key]).sum() > 0
    np.testing.assert_allclose(selected[key], everything[key], rtol=1e-4, atol=1e-9)
    for k in other[:-1]:
        assert not selected[k].any(), k


def test_marks_add_up_and_the_optimizer_marks_its_keys():
    scene = cbox()
    params = tr.traverse(scene)
    params.enable_grad("red.reflectance.value")
    opt = tr.ad.Adam(lr=0.01)
    opt["green.reflectance.value"] = params["green.reflectance.value"]
    params.update(opt)
    g = gradients(scene, params, KEYS)
    assert g["red.reflectance.value"].any() and g["green.reflectance.value"].any()
    assert not g["light.emitter.radiance.value"].any()


def test_torch_bridge_marks_the_keys_it_differentiates():
    scene = cbox()
    params = tr.traverse(scene)
    red = torch.tensor([0.6, 0.1, 0.1], requires_grad=True)
    image = trt.render(scene, params, spp=4, seed=1, **{"red.reflectance.value": red})
    image.square().mean().backward()
    assert red.grad is not None and red.grad.abs().sum() > 0
    g = gradients(scene, params, KEYS)
    assert g["red.reflectance.value"].any() and not g["green.reflectance.value"].any()


def test_forward_mode_ignores_the_marks():
    key = "green.reflectance.value"
    scene = cbox()
    params = tr.traverse(scene)
    fresh = tr.render_forward(scene, params, key, spp=4, seed=2).to_numpy().copy()
    params.enable_grad("red.reflectance.value")
    gradients(scene, params, KEYS)  # an adjoint launch that wants red only
    after = tr.render_forward(scene, params, key, spp=4, seed=2).to_numpy()
    assert np.abs(fresh).sum() > 0
    np.testing.assert_allclose(after, fresh, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("bsdf, partial", [
    ({"type": "diffuse"}, False),
    ({"type": "twosided", "bsdf": {"type": "diffuse"}}, False),
    ({"type": "roughplastic"}, True),
    ({"type": "twosided", "bsdf": {"type": "conductor"}}, True),
])
def test_marking_a_non_diffuse_mesh_warns_once(bsdf, partial):
    """Vertex-position terms cover diffuse surfaces: marking the vertices of a mesh that shades
    otherwise warns, once, naming the key and the BSDF; diffuse ones (two-sided too) do not."""
    d = tr.cornell_box()
    d["small-box"]["bsdf"] = bsdf
    params = tr.traverse(tr.load_dict(d))
    key = "small-box.vertex_positions"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        params.enable_grad([key, key, "red.reflectance.value"])
        params.enable_grad(key)  # marked already: said once
    partial_warnings = [w for w in caught if issubclass(w.category, tr.ad.PartialGradientWarning)]
    assert len(partial_warnings) == int(partial)
    if partial:
        message = str(partial_warnings[0].message)
        assert key in message and bsdf.get("bsdf", bsdf)["type"] in message
    assert params.grad_enabled() == [key, "red.reflectance.value"]


def test_partial_gradient_warning_as_error_still_marks_the_key():
    """With the warning turned into an error, the key is marked all the same (the render state
    records the mesh before the warning), and a later render differentiates it."""
    d = tr.cornell_box()
    d["small-box"]["bsdf"] = {"type": "roughconductor"}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    key = "small-box.vertex_positions"
    with warnings.catch_warnings():
        warnings.simplefilter("error", tr.ad.PartialGradientWarning)
        with pytest.raises(tr.ad.PartialGradientWarning, match="roughconductor"):
            params.enable_grad(key)
        params.enable_grad(key)  # said once: no second error
    assert key in params.grad_enabled()
    assert render_state(scene).vertex_gradients
