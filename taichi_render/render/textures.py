"""Texture evaluation: `rgb` constants, `bitmap` (nearest/bilinear, repeat/mirror/clamp) and
`checkerboard`, with Mitsuba's uv conventions (row 0 of the bitmap at v = 0)."""

import taichi as ti

from . import layout as L

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
    r = i
    if mode == L.WRAP_CLAMP:
        r = ti.math.clamp(i, 0, size - 1)
    elif mode == L.WRAP_MIRROR:
        period = 2 * size
        m = i % period
        if m < 0:
            m += period
        r = m if m < size else period - 1 - m
    else:
        r = i % size
        if r < 0:
            r += size
    return r


@ti.func
def texel_index(sc: ti.template(), tex: ti.i32, x: ti.i32, y: ti.i32) -> ti.i32:
    w = sc.tex_i[tex, L.TI_WIDTH]
    h = sc.tex_i[tex, L.TI_HEIGHT]
    mode = sc.tex_i[tex, L.TI_WRAP]
    return sc.tex_i[tex, L.TI_OFFSET] + wrap_index(y, h, mode) * w + wrap_index(x, w, mode)


@ti.func
def bitmap_footprint(sc: ti.template(), tex: ti.i32, uv: vec2):
    """The (up to) four texels and bilinear weights a lookup reads: (indices ivec4, weights vec4).

    Shared by evaluation and by the adjoint, which scatters gradients to the same texels."""
    w = sc.tex_i[tex, L.TI_WIDTH]
    h = sc.tex_i[tex, L.TI_HEIGHT]
    idx = ti.math.ivec4(0)
    wt = ti.math.vec4(0.0)
    if sc.tex_i[tex, L.TI_FILTER] == L.FILTER_NEAREST:
        x = ti.cast(ti.floor(uv.x * w), ti.i32)
        y = ti.cast(ti.floor(uv.y * h), ti.i32)
        idx = ti.math.ivec4(texel_index(sc, tex, x, y))
        wt = ti.math.vec4(1.0, 0.0, 0.0, 0.0)
    else:
        px = uv.x * w - 0.5
        py = uv.y * h - 0.5
        x0f = ti.floor(px)
        y0f = ti.floor(py)
        fx = px - x0f
        fy = py - y0f
        x0 = ti.cast(x0f, ti.i32)
        y0 = ti.cast(y0f, ti.i32)
        idx = ti.math.ivec4(
            texel_index(sc, tex, x0, y0),
            texel_index(sc, tex, x0 + 1, y0),
            texel_index(sc, tex, x0, y0 + 1),
            texel_index(sc, tex, x0 + 1, y0 + 1),
        )
        wt = ti.math.vec4((1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy)
    return idx, wt


@ti.func
def eval_texture(sc: ti.template(), tex: ti.i32, uv: vec2) -> vec3:
    """Linear RGB value of texture `tex` at surface uv."""
    kind = sc.tex_i[tex, L.TI_TYPE]
    result = vec3(0.0)
    if kind == L.TEX_RGB:
        result = sc.tex_rgb[tex]
    elif kind == L.TEX_BITMAP:
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
