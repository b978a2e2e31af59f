"""The film's `sample_border` (Mitsuba's): a shape entering the image from outside moves the
outer pixels through the reconstruction filter, and the projective integrators' boundary
terms follow it (primary_edges.py clips the edges to the sampled border).

The box sits 0.45 pixel left of the image; the default Gaussian filter (stddev 0.5, radius 2)
reaches 1.5 pixels outside the film's outer pixel centres, and its border is 2 pixels wide.
Criteria of test_visibility_gradients.py (the shape-optimization issue).
"""

import numpy as np
import pytest
import taichi as ti
from test_visibility_gradients import (
    KEY,
    RES,
    T,
    assert_matches_finite_differences,
    finite_differences,
)

import taichi_render as tr

FD_SPP = 4096


def border_scene(sample_border, integrator=None):
    """A box just left of the image in front of a wall, lit from the camera (its shadow hides
    behind it), seen through the default Gaussian filter."""
    return tr.load_dict({
        "type": "scene",
        "integrator": integrator or {"type": "direct_projective"},
        "sensor": {"type": "perspective", "fov": 40, "to_world": T.look_at([0, 0, 4], [0, 0, 0], [0, 1, 0]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "sample_border": sample_border}},
        "back": {"type": "rectangle", "to_world": T.translate([0, 0, -1]).scale(4),
                 "bsdf": {"type": "diffuse", "reflectance": 0.2}},
        "box": {"type": "cube", "to_world": T.translate([-2.2, 0, 0]).scale(0.5),
                "bsdf": {"type": "diffuse", "reflectance": 0.8}},
        "light": {"type": "point", "position": [0, 0, 4], "intensity": 400.0},
    })


def slide(params):
    """The box moves right, into the image."""
    return np.tile([1.0, 0.0, 0.0], len(params[KEY]) // 3).astype(np.float32)


def forward_derivative(scene, params, t, spp=64, seeds=range(4)):
    return np.mean([tr.render_forward(scene, params, KEY, tangent=t, spp=spp, seed=s).to_numpy()
                    for s in seeds], axis=0).astype(np.float64)


def reverse_derivative(scene, params, w, spp=64, seed=5):
    """grad(sum(w * image)) . t as a vertex gradient: sum of (w * d image / d vertices)."""
    params.enable_grad([KEY])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=spp, seed=seed)
        # mse against image - w / 2: the gradient of the loss is w / n
        tr.ad.mse(image, image.to_numpy() - 0.5 * w, out=loss)
    return params.grad(KEY).copy()


@pytest.fixture(scope="module")
def with_border():
    scene = border_scene(True)
    params = tr.traverse(scene)
    t = slide(params)
    return scene, params, t, finite_differences(scene, params, t, spp=FD_SPP)


def test_forward_mode_matches_finite_differences(with_border):
    scene, params, t, fd = with_border
    derivative = forward_derivative(scene, params, t)
    assert np.abs(fd[:, :2]).sum() > 0.9 * np.abs(fd).sum()  # only the two outer columns move
    assert_matches_finite_differences(derivative, fd)


def test_reverse_mode_matches_finite_differences(with_border):
    scene, params, t, fd = with_border
    rng = np.random.default_rng(3)
    for w in (np.ones((RES, RES, 3), np.float32), rng.uniform(0.2, 1.8, (RES, RES, 3)).astype(np.float32)):
        reverse = float(np.sum(reverse_derivative(scene, params, w) * t)) * w.size
        expected = float(np.sum(w * fd))
        assert abs(reverse - expected) < 0.03 * np.abs(w * fd).sum(), (reverse, expected, np.abs(w * fd).sum())


def test_without_sample_border_the_outside_is_not_seen():
    """Mitsuba's behaviour without `sample_border`: samples cover the film only, so a shape
    outside it changes no pixel while it moves there (central differences are exactly zero),
    and the boundary term, clipped to the film, is zero too; the image differs from the
    bordered one in the outer pixels only."""
    scene = border_scene(False)
    params = tr.traverse(scene)
    t = slide(params)
    assert np.abs(finite_differences(scene, params, t, spp=64)).max() == 0.0
    assert np.abs(forward_derivative(scene, params, t, spp=16, seeds=[0])).max() == 0.0
    inner = tr.render(scene, params, spp=64, seed=1).to_numpy()
    bordered = border_scene(True)
    outer = tr.render(bordered, tr.traverse(bordered), spp=64, seed=1).to_numpy()
    # the ring's samples reach the two outer rows and columns only: the box brightens the
    # first column, the rest is the same samples (up to the order of atomic adds)
    np.testing.assert_allclose(inner[2:-2, 2:-2], outer[2:-2, 2:-2], rtol=1e-5, atol=1e-7)
    assert np.abs(outer[:, 0] - inner[:, 0]).max() > 0.01
