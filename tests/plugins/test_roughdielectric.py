"""roughdielectric (Mitsuba's): loading, renders against Mitsuba 3.9.1 reference images, and
gradients of both texture slots (reverse mode against finite differences, forward against
reverse). Sampling against eval_pdf, from both sides, is in tests/render/test_sampling_chi2.py."""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.core.errors import SceneError

RES = 32
CONFIGS = [("beckmann", 0.1), ("ggx", 0.25)]  # (distribution, alpha of the sphere)


def scene_dict(T, distribution, alpha, res=RES):
    """A frosted glass sphere and a tinted frosted pane over a checkerboard floor, a point light
    and a constant sky. `T` is the renderer's ScalarTransform4f
    (tests/reference/make_rough_references.py renders the same dict with Mitsuba)."""
    rgb = lambda v: {"type": "rgb", "value": v}
    return {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 8},
        "sensor": {"type": "perspective", "fov": 35,
                   "to_world": T().look_at(origin=[0, 1.2, 3.5], target=[0, 0, 0], up=[0, 1, 0]),
                   "film": {"type": "hdrfilm", "width": res, "height": res, "rfilter": {"type": "box"}}},
        "floor": {"type": "rectangle", "to_world": T().translate([0, -1, 0]).rotate([1, 0, 0], -90).scale(3),
                  "bsdf": {"type": "diffuse", "reflectance": {
                      "type": "checkerboard", "color0": rgb([0.8, 0.8, 0.8]), "color1": rgb([0.1, 0.1, 0.1]),
                      "to_uv": T().scale([6, 6, 1])}}},
        "ball": {"type": "sphere", "radius": 0.8,
                 "bsdf": {"type": "roughdielectric", "distribution": distribution, "alpha": alpha,
                          "int_ior": 1.5}},
        "pane": {"type": "rectangle", "to_world": T().translate([1.2, -0.3, 0.8]).rotate([0, 1, 0], -30).scale(0.5),
                 "bsdf": {"type": "roughdielectric", "distribution": distribution, "alpha": 2 * alpha,
                          "int_ior": 1.3, "specular_reflectance": rgb([0.8, 0.9, 1.0]),
                          "specular_transmittance": rgb([0.9, 0.6, 0.3])}},
        "lamp": {"type": "point", "position": [1.0, 3.0, 1.0], "intensity": rgb([20, 20, 20])},
        "sky": {"type": "constant", "radiance": rgb([0.3, 0.3, 0.35])},
    }


def reference_name(distribution, alpha):
    return f"roughdielectric_{distribution}_{alpha}_{RES}.npy"


# ---- loading ----
def test_defaults_and_options():
    b = tr.load_dict({"type": "roughdielectric"})
    assert (b.distribution, b.alpha_u, b.alpha_v, b.sample_visible) == ("beckmann", 0.1, 0.1, True)
    assert b.eta == pytest.approx(1.5046 / 1.000277, rel=1e-4)
    a = tr.load_dict({"type": "roughdielectric", "distribution": "ggx", "alpha_u": 0.1, "alpha_v": 0.3,
                      "int_ior": "water"})
    assert (a.distribution, a.alpha_u, a.alpha_v) == ("ggx", 0.1, 0.3)


@pytest.mark.parametrize("bad, key", [
    ({"alpha": 0.0}, "alpha"),
    ({"alpha_u": 0.1}, "alpha_v"),
    ({"distribution": "phong"}, "distribution"),
    ({"int_ior": "unobtainium"}, "int_ior"),
])
def test_errors_name_the_key(bad, key):
    with pytest.raises(SceneError, match=key):
        tr.load_dict({"type": "roughdielectric", **bad})


def test_twosided_rejects_it():
    with pytest.raises(SceneError, match="transmission"):
        tr.load_dict({"type": "twosided", "bsdf": {"type": "roughdielectric"}})


def test_parameter_keys_are_mitsubas():
    keys = set(tr.traverse(tr.load_dict(scene_dict(tr.ScalarTransform4f, *CONFIGS[0]))).keys())
    for key in ("ball.bsdf.eta", "ball.bsdf.alpha.value", "pane.bsdf.specular_reflectance.value",
                "pane.bsdf.specular_transmittance.value"):
        assert key in keys


# ---- renders against Mitsuba ----
@pytest.mark.parametrize("config", CONFIGS)
def test_render_matches_mitsuba(reference_dir, config):
    """Channel means within 1 % and 8x8-pixel blocks within 6 % of Mitsuba 3.9.1's image
    (16,384 spp); ours at 1,024 spp. The image holds glossy reflection and refraction from
    both sides of the interface (the sphere), a tinted pane, and caustics on the floor."""
    reference = np.load(reference_dir / "roughdielectric" / reference_name(*config))
    image = tr.render(tr.load_dict(scene_dict(tr.ScalarTransform4f, *config)), spp=1024, seed=1).to_numpy()[..., :3]
    np.testing.assert_allclose(image.mean((0, 1)), reference.mean((0, 1)), rtol=0.01)
    blocks = image.reshape(4, 8, 4, 8, 3).mean((1, 3))
    ref_blocks = reference.reshape(4, 8, 4, 8, 3).mean((1, 3))
    assert np.all(np.abs(blocks - ref_blocks) <= 0.06 * ref_blocks)


# ---- gradients ----
@pytest.mark.parametrize("slot", ["specular_reflectance", "specular_transmittance"])
def test_texture_gradients_match_finite_differences(slot):
    """The lobe is chosen by the Fresnel term, not by the textures: with seed_grad = seed the
    adjoint differentiates the very estimator that central differences (same seed) see."""
    scene = tr.load_dict(scene_dict(tr.ScalarTransform4f, *CONFIGS[1], res=16))
    # no Russian roulette (max_depth <= rr_depth): its decisions follow the throughput, hence the
    # parameter, and would make the fixed-seed estimator jump under finite differences
    scene.integrator().max_depth = 5
    params = tr.traverse(scene)
    key = f"pane.bsdf.{slot}.value"
    target = tr.render(scene, spp=16, seed=99).to_numpy() * 0.7 + 0.01
    direction = np.array([1.0, 0.8, 0.6], np.float32)
    params.enable_grad([key])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=8, seed=3, seed_grad=3)
        tr.ad.mse(image, target, out=loss)
    reverse = float(np.dot(params.grad(key), direction))
    x0 = params[key].copy()
    values = []
    for sign in (1.0, -1.0):
        params[key] = x0 + sign * 1e-2 * direction
        params.update()
        img = tr.render(scene, params, spp=8, seed=3).to_numpy().astype(np.float64)
        values.append(np.mean((img - target) ** 2))
    fd = (values[0] - values[1]) / 2e-2
    assert abs(fd) > 1e-7
    np.testing.assert_allclose(reverse, fd, rtol=2e-3)
    # forward mode: sum(d image/d x . t) equals grad(sum(image)) . t with the same paths
    dimg = tr.render_forward(scene, params, key, tangent=direction, spp=8, seed=3).to_numpy().astype(np.float64)
    plain = tr.render(scene, spp=8, seed=3).to_numpy()
    with ti.ad.Tape(loss=loss):
        out = tr.render(scene, params, spp=8, seed=3, seed_grad=3)
        tr.ad.mse(out, plain - 0.5, out=loss)
    np.testing.assert_allclose(np.sum(dimg) / plain.size, float(np.dot(params.grad(key), direction)), rtol=2e-3)
