"""Texture evaluation: `rgb` constants, `bitmap` (nearest/bilinear, repeat/mirror/clamp) and
`checkerboard`, with Mitsuba's uv conventions (row 0 of the bitmap at v = 0)."""

import taichi as ti

from .. import layout as L
from ..view import TEXTURES

vec2 = ti.math.vec2
vec3 = ti.math.vec3


@ti.func
def apply_to_uv(sc: ti.template(), tex: ti.i32, uv: vec2) -> vec2:
    return vec2(
        sc.tex_f[tex, L.TF_TO_UV + 0] * uv.x + sc.tex_f[tex, L.TF_TO_UV + 1] * uv.y + sc.tex_f[tex, L.TF_TO_UV + 2],
        sc.tex_f[tex, L.TF_TO_UV + 3] * uv.x + sc.tex_f[tex, L.TF_TO_UV + 4] * uv.y + sc.tex_f[tex, L.TF_TO_UV + 5],
    )


@ti.func
def wrap_index(i: ti.i32, size: ti.i32, mode: ti.i32) -> ti.i32:
    """Texel coordinate i wrapped into [0, size) by the wrap mode (repeat, mirror or clamp).

    Written as selects, without branches: every bitmap lookup inlines it four times, and a
    kernel's compile time grows with the square of its statements."""
    rep = i % size
    rep = ti.select(rep < 0, rep + size, rep)
    mir = i % (2 * size)
    mir = ti.select(mir < 0, mir + 2 * size, mir)
    mir = ti.select(mir < size, mir, 2 * size - 1 - mir)
    clamped = ti.math.clamp(i, 0, size - 1)
    return ti.select(mode == L.WRAP_CLAMP, clamped, ti.select(mode == L.WRAP_MIRROR, mir, rep))


@ti.func
def bitmap_footprint(sc: ti.template(), tex: ti.i32, uv: vec2):
    """The (up to) four texels and bilinear weights a lookup reads: (indices ivec4, weights vec4).
    A nearest lookup reads texel 0 with weight 1 (the others get weight 0).

    Shared by evaluation and by the adjoint, which scatters gradients to the same texels."""
    w = sc.tex_i[tex, L.TI_WIDTH]
    h = sc.tex_i[tex, L.TI_HEIGHT]
    mode = sc.tex_i[tex, L.TI_WRAP]
    nearest = sc.tex_i[tex, L.TI_FILTER] == L.FILTER_NEAREST
    half = ti.select(nearest, 0.0, 0.5)  # bilinear: texel centres at half-integers
    px = uv.x * w - half
    py = uv.y * h - half
    x0f = ti.floor(px)
    y0f = ti.floor(py)
    fx = ti.select(nearest, 0.0, px - x0f)
    fy = ti.select(nearest, 0.0, py - y0f)
    x0 = ti.cast(x0f, ti.i32)
    y0 = ti.cast(y0f, ti.i32)
    xa, xb = wrap_index(x0, w, mode), wrap_index(x0 + 1, w, mode)
    ya, yb = wrap_index(y0, h, mode) * w, wrap_index(y0 + 1, h, mode) * w
    base = sc.tex_i[tex, L.TI_OFFSET]
    idx = ti.math.ivec4(base + ya + xa, base + ya + xb, base + yb + xa, base + yb + xb)
    wt = ti.math.vec4((1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy)
    return idx, wt


@ti.func
def eval_texture(sc: ti.template(), tex: ti.i32, uv: vec2) -> vec3:
    """Linear RGB value of texture `tex` at surface uv."""
    kind = sc.tex_i[tex, L.TI_TYPE]
    result = vec3(0.0)
    if kind == L.TEX_RGB:
        result = sc.tex_rgb[tex]
    elif ti.static(sc.features & TEXTURES):
        if kind == L.TEX_BITMAP:
            idx, wt = bitmap_footprint(sc, tex, apply_to_uv(sc, tex, uv))
            for k in ti.static(range(4)):
                result += wt[k] * sc.texels[idx[k]]
        else:
            t = apply_to_uv(sc, tex, uv)
            mx = (t.x - ti.floor(t.x)) > 0.5
            my = (t.y - ti.floor(t.y)) > 0.5
            child = sc.tex_i[tex, L.TI_CHILD0] if mx == my else sc.tex_i[tex, L.TI_CHILD1]
            result = sc.tex_rgb[child]
    return result
