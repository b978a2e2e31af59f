"""Gradients of rgb textures summed per packet, then added with one atomic add per texture.

Both cores add the gradients of a scene's few rgb textures (the walls of the Cornell box sit in
one or two cache lines); atomic adds to them from every packet vertex contend. Measured on the
Cornell box at spp 16, those adds made the adjoint pass 1.20x the primal's time, against 1.07x
without them. A packet therefore sums its rgb gradients in a small table (`TABLE_SIZE`
textures: texture index, then the three channels; index -1: free) and adds them once, when its
paths end. Textures beyond the table's size are added at once.
"""

import taichi as ti

vec3 = ti.math.vec3

TABLE_SIZE = 8


def new_table():
    """An empty table: a (TABLE_SIZE, 4) f32 matrix, column 0 the texture index (-1: free)."""
    return ti.Matrix([[-1.0, 0.0, 0.0, 0.0] for _ in range(TABLE_SIZE)], ti.f32)


# called in kernels at compile time (a Python function that builds a zero matrix): exempt
# from Taichi's "non-taichi function" warning, as view.SceneView is
new_table._is_taichi_function = False


@ti.func
def add_rgb_gradient(ad: ti.template(), G: ti.template(), tex: ti.i32, value: vec3):
    """Add `value` to the gradient of rgb texture row `tex` (in the table, or at once if full)."""
    key = ti.cast(tex, ti.f32)
    slot = -1
    for i in ti.static(range(TABLE_SIZE)):  # entries fill in order: the first match or free row
        if slot < 0 and (G[i, 0] == key or G[i, 0] < 0.0):
            slot = i
    if slot < 0:
        ti.atomic_add(ad.grad_rgb[tex], value)
    else:
        G[slot, 0] = key
        for c in ti.static(range(3)):
            G[slot, 1 + c] += value[c]


@ti.func
def flush_rgb_gradients(ad: ti.template(), G: ti.template()):
    """Add the table's sums into the gradient array."""
    for i in ti.static(range(TABLE_SIZE)):
        if G[i, 0] >= 0.0:
            ti.atomic_add(ad.grad_rgb[ti.cast(G[i, 0], ti.i32)], vec3(G[i, 1], G[i, 2], G[i, 3]))
