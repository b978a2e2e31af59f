"""roughplastic (Mitsuba's): loading, the coating's albedo tables against Mitsuba's, renders
against Mitsuba 3.9.1 reference images, and gradients of both texture slots against finite
differences. Sampling against eval_pdf is in tests/render/test_sampling_chi2.py."""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.bsdfs.roughplastic import coating_albedo, rough_transmittance
from taichi_render.core.errors import SceneError

RES = 32
# (distribution, alpha of the sphere, nonlinear): the reference images' configurations
CONFIGS = [("beckmann", 0.1, False), ("ggx", 0.05, True), ("ggx", 0.4, False)]


def scene_dict(T, distribution, alpha, nonlinear, res=RES):
    """A roughplastic sphere on a roughplastic floor under a point light and a constant sky.
    `T` is the renderer's ScalarTransform4f (tests/reference/make_rough_references.py
    renders the same dict with Mitsuba)."""
    return {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 4},
        "sensor": {"type": "perspective", "fov": 35,
                   "to_world": T().look_at(origin=[0, 1.2, 3.5], target=[0, 0, 0], up=[0, 1, 0]),
                   "film": {"type": "hdrfilm", "width": res, "height": res, "rfilter": {"type": "box"}}},
        "floor": {"type": "rectangle", "to_world": T().translate([0, -1, 0]).rotate([1, 0, 0], -90).scale(3),
                  "bsdf": {"type": "roughplastic", "distribution": distribution, "alpha": 0.3,
                           "diffuse_reflectance": {"type": "rgb", "value": [0.2, 0.5, 0.3]}}},
        "ball": {"type": "sphere", "radius": 0.8,
                 "bsdf": {"type": "roughplastic", "distribution": distribution, "alpha": alpha,
                          "nonlinear": nonlinear, "int_ior": 1.6,
                          "diffuse_reflectance": {"type": "rgb", "value": [0.7, 0.2, 0.1]}}},
        "lamp": {"type": "point", "position": [2.0, 3.0, 2.0], "intensity": {"type": "rgb", "value": [20, 20, 20]}},
        "sky": {"type": "constant", "radiance": {"type": "rgb", "value": [0.3, 0.3, 0.35]}},
    }


def reference_name(distribution, alpha, nonlinear):
    return f"roughplastic_{distribution}_{alpha}_{'nonlinear' if nonlinear else 'linear'}_{RES}.npy"


# ---- loading ----
def test_defaults_and_options():
    p = tr.load_dict({"type": "roughplastic"})
    assert (p.distribution, p.alpha, p.nonlinear, p.sample_visible) == ("beckmann", 0.1, False, True)
    assert p.eta == pytest.approx(1.49 / 1.000277, rel=1e-3)
    q = tr.load_dict({"type": "roughplastic", "distribution": "ggx", "alpha": 0.3, "int_ior": 1.7,
                      "nonlinear": True, "diffuse_reflectance": [0.1, 0.2, 0.3]})
    assert (q.distribution, q.alpha, q.nonlinear) == ("ggx", 0.3, True)
    np.testing.assert_allclose(q.diffuse_reflectance.value, [0.1, 0.2, 0.3])


@pytest.mark.parametrize("bad, key", [
    ({"alpha_u": 0.1, "alpha_v": 0.2}, "alpha_u"),  # Mitsuba: isotropic only
    ({"alpha": -0.1}, "alpha"),
    ({"distribution": "phong"}, "distribution"),
    ({"int_ior": -1.0}, "int_ior"),
])
def test_errors_name_the_key(bad, key):
    with pytest.raises(SceneError, match=key):
        tr.load_dict({"type": "roughplastic", **bad})


def test_parameter_keys_are_mitsubas():
    scene = tr.load_dict(scene_dict(tr.ScalarTransform4f, "ggx", 0.2, False))
    keys = set(tr.traverse(scene).keys())
    for key in ("ball.bsdf.diffuse_reflectance.value", "ball.bsdf.specular_reflectance.value",
                "ball.bsdf.alpha", "ball.bsdf.eta"):
        assert key in keys


# ---- the coating's tables ----
# Mitsuba 3.9.1's mi.eval_reflectance(type, alpha, alpha, wi, eta) at mu = 1e-6, 1/63, 10/63,
# 32/63, 1 (wi = (sqrt(1 - mu^2), 0, mu)), printed once and copied here
MITSUBA_REFLECTANCE = {
    ("beckmann", 0.1, 1.49): [0.60037, 0.56602, 0.33469, 0.08672, 0.03873],
    ("beckmann", 0.5, 1 / 1.49): [0.9563, 0.95172, 0.892, 0.62301, 0.05729],
    ("ggx", 0.1, 1.49): [0.35641, 0.3533, 0.26326, 0.08196, 0.03824],
    ("ggx", 0.5, 1 / 1.49): [0.62046, 0.61354, 0.55587, 0.4161, 0.04295],
}


@pytest.mark.parametrize("key", list(MITSUBA_REFLECTANCE))
def test_coating_reflectance_matches_mitsuba(key):
    distribution, alpha, eta = key
    mu = np.array([1e-6, 1 / 63, 10 / 63, 32 / 63, 1.0])
    reflected, transmitted = coating_albedo(mu, alpha, distribution == "ggx", eta)
    np.testing.assert_allclose(reflected, MITSUBA_REFLECTANCE[key], atol=3e-3)
    # what single scattering does not reflect is transmitted or lost to shadowing, never created
    assert np.all(transmitted >= 0.0) and np.all(reflected + transmitted <= 1.0 + 1e-6)


def test_transmittance_table_limits():
    # a smooth coating transmits 1 - F at normal incidence; roughness loses energy at grazing angles
    table, internal = rough_transmittance(1e-3, True, 1.5)
    assert table[-1] == pytest.approx(1.0 - ((1.5 - 1) / (1.5 + 1)) ** 2, abs=1e-3)
    assert 0.0 < internal < 1.0
    rough, _ = rough_transmittance(0.6, True, 1.5)
    assert rough[5] < table[5] + 0.3 and np.all(np.diff(table[8:]) >= -1e-6)


# ---- renders against Mitsuba ----
@pytest.mark.parametrize("config", CONFIGS)
def test_render_matches_mitsuba(reference_dir, config):
    """Channel means within 1 % and 8x8-pixel blocks within 6 % of Mitsuba 3.9.1's image
    (16,384 spp); ours at 1,024 spp."""
    reference = np.load(reference_dir / "roughplastic" / reference_name(*config))
    image = tr.render(tr.load_dict(scene_dict(tr.ScalarTransform4f, *config)), spp=1024, seed=1).to_numpy()[..., :3]
    np.testing.assert_allclose(image.mean((0, 1)), reference.mean((0, 1)), rtol=0.01)
    blocks = image.reshape(4, 8, 4, 8, 3).mean((1, 3))
    ref_blocks = reference.reshape(4, 8, 4, 8, 3).mean((1, 3))
    bright = ref_blocks > 0.02
    assert np.all(np.abs(blocks - ref_blocks)[bright] <= 0.06 * ref_blocks[bright])


# ---- gradients ----
def _gradient_vs_fd(config, key, direction, seeds=range(10), eps=0.04):
    """Mean over seeds of the reverse-mode directional derivative of an MSE and of central
    differences: the lobe-selection weight follows the texture means (as in Mitsuba), so a
    fixed-seed estimator jumps where samples switch lobes and only expectations compare."""
    scene = tr.load_dict(scene_dict(tr.ScalarTransform4f, *config, res=16))
    scene.integrator().max_depth = 4
    params = tr.traverse(scene)
    target = tr.render(scene, spp=16, seed=99).to_numpy() * 0.7 + 0.01
    rev, fd = [], []
    x0 = params[key].copy()
    for seed in seeds:
        params.enable_grad([key])
        loss = tr.ad.loss_field()
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=8, seed=seed, seed_grad=seed)
            tr.ad.mse(image, target, out=loss)
        rev.append(float(np.dot(params.grad(key), direction)))
        values = []
        for sign in (1.0, -1.0):
            params[key] = x0 + sign * eps * direction
            params.update()
            img = tr.render(scene, params, spp=8, seed=seed).to_numpy().astype(np.float64)
            values.append(np.mean((img - target) ** 2))
        params[key] = x0
        params.update()
        fd.append((values[0] - values[1]) / (2 * eps))
    return np.mean(rev), np.mean(fd)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[1]])
@pytest.mark.parametrize("slot", ["diffuse_reflectance", "specular_reflectance"])
def test_texture_gradients_match_finite_differences(config, slot):
    direction = np.array([1.0, 0.8, 0.6], np.float32)
    rev, fd = _gradient_vs_fd(config, f"ball.bsdf.{slot}.value", direction)
    assert abs(fd) > 1e-6
    # both are means of 10 noisy estimates (seed batches of the GGX 0.05 highlight differ by
    # 0.5-3 %, always within 4 %)
    np.testing.assert_allclose(rev, fd, rtol=0.04)


@pytest.mark.parametrize("slot", ["diffuse_reflectance", "specular_reflectance"])
def test_forward_mode_matches_reverse_mode(slot):
    """sum(d image/d x . t) from forward mode equals grad(sum(image)) . t, with the same paths."""
    scene = tr.load_dict(scene_dict(tr.ScalarTransform4f, *CONFIGS[1], res=16))
    params = tr.traverse(scene)
    key = f"ball.bsdf.{slot}.value"
    tangent = np.array([1.0, 0.5, 0.25], np.float32)
    dimg = tr.render_forward(scene, params, key, tangent=tangent, spp=8, seed=5).to_numpy().astype(np.float64)
    assert np.abs(dimg).max() > 0
    image = tr.render(scene, spp=8, seed=5).to_numpy()
    params.enable_grad([key])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):  # the MSE against image - 0.5 has gradient (1 / n) sum(dI/dx)
        out = tr.render(scene, params, spp=8, seed=5, seed_grad=5)
        tr.ad.mse(out, image - 0.5, out=loss)
    reverse = float(np.dot(params.grad(key), tangent))
    np.testing.assert_allclose(np.sum(dimg) / image.size, reverse, rtol=2e-3)
