"""Sample warps against float64 formulas: the quarter-angle sine and cosine polynomials and the
concentric disk map built on them."""

import numpy as np
import taichi as ti

from taichi_render.render.device.warp import quarter_sincos, square_to_uniform_disk_concentric


@ti.kernel
def _sincos(a: ti.types.ndarray(dtype=ti.f32, ndim=1), out: ti.types.ndarray(dtype=ti.f32, ndim=2)):
    for i in a:
        out[i, 0], out[i, 1] = quarter_sincos(a[i])


@ti.kernel
def _disk(s: ti.types.ndarray(dtype=ti.math.vec2, ndim=1), out: ti.types.ndarray(dtype=ti.math.vec2, ndim=1)):
    for i in s:
        out[i] = square_to_uniform_disk_concentric(s[i])


def test_quarter_sincos_is_accurate_to_float32():
    a = np.linspace(-np.pi / 4, np.pi / 4, 20001).astype(np.float32)
    out = np.zeros((len(a), 2), np.float32)
    _sincos(a, out)
    a64 = a.astype(np.float64)
    assert np.abs(out[:, 0] - np.sin(a64)).max() < 2e-7
    assert np.abs(out[:, 1] - np.cos(a64)).max() < 2e-7


def test_concentric_disk_matches_the_shirley_chiu_map():
    rng = np.random.default_rng(0)
    s = rng.random((5000, 2)).astype(np.float32)
    s[0] = 0.5  # the centre
    out = np.zeros_like(s)
    _disk(s, out)
    x, y = 2.0 * s[:, 0].astype(np.float64) - 1.0, 2.0 * s[:, 1].astype(np.float64) - 1.0
    wider = x * x > y * y
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(wider, x, y)
        phi = np.where(wider, np.pi / 4 * (y / x), np.pi / 2 - np.pi / 4 * (x / y))
    expected = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    expected[0] = 0.0
    np.testing.assert_allclose(out, expected, atol=1e-6)
