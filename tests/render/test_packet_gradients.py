"""The per-packet table of rgb texture gradients (render/drivers/packet_gradients.py): sums, and the
textures beyond its size added at once."""

import numpy as np
import taichi as ti

from taichi_render.render.drivers.packet_gradients import (
    TABLE_SIZE,
    add_rgb_gradient,
    flush_rgb_gradients,
    new_table,
)


class _Grads:
    def __init__(self, grad_rgb):
        self.grad_rgb = grad_rgb


@ti.func
def _add_all(ad: ti.template(), tex: ti.template(), values: ti.template()):
    G = new_table()
    for i in range(tex.shape[0]):
        add_rgb_gradient(ad, G, tex[i], values[i])
    flush_rgb_gradients(ad, G)


@ti.kernel
def _accumulate(tex: ti.types.ndarray(dtype=ti.i32, ndim=1), values: ti.types.ndarray(dtype=ti.math.vec3, ndim=1),
                grad_rgb: ti.types.ndarray(dtype=ti.math.vec3, ndim=1)):
    ti.loop_config(serialize=True)
    for _ in range(1):
        _add_all(_Grads(grad_rgb), tex, values)


def test_table_sums_gradients_and_adds_overflowing_textures_directly():
    rng = np.random.default_rng(3)
    n_textures = TABLE_SIZE + 4  # more textures than rows
    tex = rng.integers(0, n_textures, 400).astype(np.int32)
    tex[:n_textures] = np.arange(n_textures)  # every texture occurs, in order: the last 4 overflow
    values = rng.normal(size=(400, 3)).astype(np.float32)
    grad = np.full((n_textures + 1, 3), 0.5, np.float32)  # sums are added to what is there
    expected = grad.copy()
    np.add.at(expected, tex, values)
    tex_nd = ti.ndarray(ti.i32, 400)
    val_nd = ti.ndarray(ti.math.vec3, 400)
    grad_nd = ti.ndarray(ti.math.vec3, n_textures + 1)
    tex_nd.from_numpy(tex)
    val_nd.from_numpy(values)
    grad_nd.from_numpy(grad)
    _accumulate(tex_nd, val_nd, grad_nd)
    np.testing.assert_allclose(grad_nd.to_numpy(), expected, rtol=1e-5, atol=1e-5)
