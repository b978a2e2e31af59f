"""Vertex-position gradients ("interior" shape derivatives: no silhouettes or shadow boundaries).

The scene has no visibility change under the perturbation: a large diffuse floor seen from
above, lit by a rectangle light above the camera. MIS weights and sampling are detached in the
adjoint (their derivatives vanish in expectation, not per sample), so reverse mode is compared
with central differences averaged over seeds; forward and reverse mode agree seed by seed.
"""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr

T = tr.ScalarTransform4f
RES = 16
SPP = 8
SEEDS = range(8)


def floor_scene():
    return tr.load_dict({
        "type": "scene",
        "integrator": {"type": "prb", "max_depth": 3},
        "sensor": {"type": "perspective", "fov": 30, "to_world": T.look_at([0, 1.0, 0.01], [0, 0, 0], [0, 0, 1]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "floor": {"type": "rectangle", "to_world": T.rotate([1, 0, 0], -90).scale(10),
                  "bsdf": {"type": "diffuse", "reflectance": 0.7}},
        "light": {"type": "rectangle", "to_world": T.translate([0.3, 1.5, 0.2]).rotate([1, 0, 0], 90).scale(0.5),
                  "emitter": {"type": "area", "radiance": 5.0}},
    })


def mean_square(scene, params, seed):
    img = tr.render(scene, params, spp=SPP, seed=seed).to_numpy().astype(np.float64)
    return float(np.mean(img**2)), img


@pytest.mark.parametrize("key", ["floor.vertex_positions", "light.vertex_positions"])
def test_vertex_gradients_match_finite_differences(key):
    scene = floor_scene()
    params = tr.traverse(scene)
    x0 = params[key].copy()
    t = (np.random.default_rng(2).normal(size=x0.shape) * 0.1).astype(np.float32)
    params.enable_grad([key])
    loss = tr.ad.loss_field()
    zeros = np.zeros((RES, RES, 3), np.float32)
    reverse, forward, fd = [], [], []
    for seed in SEEDS:
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=SPP, seed=seed, seed_grad=seed)
            tr.ad.mse(image, zeros, out=loss)
        g = params.grad(key)
        assert g.shape == x0.shape and np.isfinite(g).all()
        reverse.append(float(np.sum(g * t)))
        _, img = mean_square(scene, params, seed)
        dimg = tr.render_forward(scene, params, key, tangent=t, spp=SPP, seed=seed).to_numpy().astype(np.float64)
        forward.append(float(np.mean(2.0 * img * dimg)))
        values = []
        for sign in (1.0, -1.0):
            params[key] = x0 + sign * 1e-2 * t
            params.update()
            values.append(mean_square(scene, params, seed)[0])
        params[key] = x0
        params.update()
        fd.append((values[0] - values[1]) / 2e-2)
    np.testing.assert_allclose(forward, reverse, rtol=1e-3)
    assert abs(np.mean(fd)) > 1e-4
    np.testing.assert_allclose(np.mean(reverse), np.mean(fd), rtol=0.02)


def test_translation_along_the_normal_darkens_with_distance():
    """Moving the floor down (away from the light) must lower the image: the gradient of the
    mean image along -y is negative (the sign check of the geometry term)."""
    scene = floor_scene()
    params = tr.traverse(scene)
    key = "floor.vertex_positions"
    down = np.tile([0.0, -1.0, 0.0], len(params[key]) // 3).astype(np.float32)
    dimg = tr.render_forward(scene, params, key, tangent=down, spp=32, seed=0).to_numpy()
    assert dimg.mean() < 0
