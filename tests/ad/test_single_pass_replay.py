"""Single-pass path replay (render/device/deferred_terms.py) against the two-pass replay: the same
paths, so the same gradients and forward-mode images up to float rounding."""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.render.drivers.packet_state import KEPT_SLOTS
from taichi_render.render.renderer import single_pass_replay


def test_single_pass_applies_to_bounded_paths_without_vertex_terms(monkeypatch):
    assert single_pass_replay("adjoint", 3, False)
    assert single_pass_replay("forward", KEPT_SLOTS + 1, False)
    assert not single_pass_replay("adjoint", KEPT_SLOTS + 2, False)  # more vertices than slots
    assert not single_pass_replay("adjoint", -1, False)  # unbounded
    assert not single_pass_replay("adjoint", 3, True)  # vertex-position terms stay two-pass
    assert not single_pass_replay("primal", 3, False)
    monkeypatch.setenv("TR_SINGLE_PASS", "0")
    assert not single_pass_replay("adjoint", 3, False)


def gradients(monkeypatch, scene, params, keys, flag, spp=3):
    """d(mean squared image)/d(key) for each key with TR_SINGLE_PASS=flag."""
    monkeypatch.setenv("TR_SINGLE_PASS", flag)
    params.enable_grad(keys)
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=spp, seed=1, seed_grad=2)
        tr.ad.mse(image, np.zeros(tuple(image.shape) + (3,), np.float32), loss)
    return [params.grad(k).copy() for k in keys]


def assert_same_gradients(monkeypatch, scene, keys):
    params = tr.traverse(scene)
    two = gradients(monkeypatch, scene, params, keys, "0")
    one = gradients(monkeypatch, scene, params, keys, "1")
    for key, g2, g1 in zip(keys, two, one):
        assert np.abs(g2).max() > 0, key
        np.testing.assert_allclose(g1, g2, rtol=1e-3, atol=1e-4 * np.abs(g2).max(), err_msg=key)


@pytest.mark.parametrize("max_depth", [3, KEPT_SLOTS + 1])
def test_cornell_box_gradients_equal_two_pass(monkeypatch, scenes_dir, max_depth):
    # diffuse triangles: the SIMD vertex keeps its terms; KEPT_SLOTS + 1 fills every slot
    scene = tr.load_file(scenes_dir / "cbox.xml", res=20, max_depth=max_depth)
    assert_same_gradients(monkeypatch, scene, ["red.reflectance.value", "light.emitter.radiance.value"])


def test_glass_and_texture_gradients_equal_two_pass(monkeypatch, scenes_dir):
    # dielectric (both texture slots of a lobe), a bitmap seen through glass, the sky: per-lane vertices
    scene = tr.load_file(scenes_dir / "glass_sphere.xml", res=20)
    assert_same_gradients(monkeypatch, scene, [
        "textured_plane.bsdf.brdf_0.reflectance.data",
        "glass_sphere.bsdf.specular_reflectance.value",
        "glass_sphere.bsdf.specular_transmittance.value",
        "light.radiance.value",
    ])


@pytest.mark.parametrize("scene_file, key", [
    ("cbox.xml", "red.reflectance.value"),
    ("glass_sphere.xml", "textured_plane.bsdf.brdf_0.reflectance.data"),
])
def test_forward_mode_equals_two_pass(monkeypatch, scenes_dir, scene_file, key):
    scene = tr.load_file(scenes_dir / scene_file, res=20)
    params = tr.traverse(scene)
    out = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("TR_SINGLE_PASS", flag)
        out[flag] = tr.render_forward(scene, params, key, np.ones_like(params[key]), spp=3, seed=4).to_numpy()
    scale = np.abs(out["0"]).mean()
    assert scale > 0
    assert np.abs(out["1"] - out["0"]).max() < 1e-3 * np.abs(out["0"]).max()
