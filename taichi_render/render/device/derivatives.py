"""Derivatives of path contributions with respect to texture values (reflectances, emitted
radiance, bitmap texels), for path replay backpropagation and forward mode.

Contributions are linear or (nonlinear plastic) rational in texture values, so the derivative of
a contribution C with respect to a texture slot is C times a per-channel "log-derivative"
(`lobe_dlog`). `apply_texture_derivative` then either scatters delta * g into the gradient
arrays (adjoint) or contracts g with the tangent arrays (forward).
"""

import taichi as ti

from .. import layout as L
from ..view import MATERIALS, TEXTURES
from .textures import apply_to_uv, bitmap_footprint

vec2 = ti.math.vec2
vec3 = ti.math.vec3

MODE_PRIMAL = 0
MODE_ADJOINT = 1
MODE_FORWARD = 2


class ADView:
    """Compile-time bundle of the derivative arrays: gradients (adjoint) and tangents (forward),
    parallel to the scene's `tex_rgb` and `texels` arrays, to the vertices (`vtx`, global vertex
    index) and to the emitters (`em`: L.ED_WIDTH floats per emitter row, with respect to an area
    emitter's total area at L.ED_AREA and a point light's position at L.ED_POSITION)."""

    # Taichi 1.7 warns when a kernel calls a Python callable that is not a Taichi function; a
    # callable carrying this attribute is exempt (ast_transformer.is_external_func), and False
    # keeps Taichi from treating it as one. The view is plain data, built at compile time.
    _is_taichi_function = False

    def __init__(self, grad_rgb, grad_texels, grad_vtx, grad_em, tan_rgb, tan_texels, tan_vtx, tan_em):
        self.grad_rgb = grad_rgb
        self.grad_texels = grad_texels
        self.grad_vtx = grad_vtx
        self.grad_em = grad_em
        self.tan_rgb = tan_rgb
        self.tan_texels = tan_texels
        self.tan_vtx = tan_vtx
        self.tan_em = tan_em


@ti.func
def safe_inverse(v: vec3) -> vec3:
    r = vec3(0.0)
    for c in ti.static(range(3)):
        if v[c] != 0.0:
            r[c] = 1.0 / v[c]
    return r


@ti.func
def lobe_dlog(sc: ti.template(), b: ti.i32, tex0: vec3, tex1: vec3, delta: ti.i32, reflected: ti.i32,
              value: vec3, units: ti.template()):
    """Per-channel d log(value) / d tex0 and d log(value) / d tex1 of the lobe that produced a
    sample of leaf BSDF `b` (delta: a delta lobe; reflected: wo on the side of wi).

    value: f * cos of a smooth sample; units: `evaluate_both`'s unit values (rows 2 and 3: the
    sampled direction per unit of slot 0 and slot 1), used where a smooth sample's value sums
    lobes of both slots (roughplastic)."""
    kind = sc.bsdf_i[b, L.BI_TYPE]
    a0 = vec3(0.0)
    a1 = vec3(0.0)
    if ti.static(sc.features & MATERIALS):
        if kind == L.BSDF_ROUGHPLASTIC and not delta:
            inv = safe_inverse(value)
            unit0 = vec3(units[2, 0], units[2, 1], units[2, 2])
            unit1 = vec3(units[3, 0], units[3, 1], units[3, 2])
            a0 = unit0 * unit_correction(sc, b, tex0) * inv
            a1 = unit1 * inv
        elif kind == L.BSDF_PLASTIC:
            if delta:
                a1 = safe_inverse(tex1)
            elif sc.bsdf_i[b, L.BI_NONLINEAR]:
                a0 = safe_inverse(tex0 * (1.0 - tex0 * sc.bsdf_f[b, L.BF_FDR_INT]))
            else:
                a0 = safe_inverse(tex0)
        elif kind == L.BSDF_DIELECTRIC or kind == L.BSDF_THINDIELECTRIC or kind == L.BSDF_ROUGHDIELECTRIC:
            if reflected:
                a0 = safe_inverse(tex0)
            else:
                a1 = safe_inverse(tex1)
        else:  # diffuse, conductor, roughconductor: linear in their first slot
            a0 = safe_inverse(tex0)
    else:
        a0 = safe_inverse(tex0)
    return a0, a1


@ti.func
def unit_correction(sc: ti.template(), b: ti.i32, tex0: vec3) -> vec3:
    """d value / d tex0 = (value at tex0 = 1) * this: 1 for lobes linear in tex0; for the
    nonlinear (rough) plastic, diff = t / (1 - t fdr) has derivative 1 / (1 - t fdr)^2."""
    c = vec3(1.0)
    if ti.static(sc.features & MATERIALS):
        kind = sc.bsdf_i[b, L.BI_TYPE]
        if (kind == L.BSDF_PLASTIC or kind == L.BSDF_ROUGHPLASTIC) and sc.bsdf_i[b, L.BI_NONLINEAR]:
            fdr = sc.bsdf_f[b, L.BF_FDR_INT]
            q = 1.0 - tex0 * fdr
            c = (1.0 - fdr) / (q * q)
    return c


@ti.func
def gradient_wanted(sc: ti.template(), tex: ti.template()):
    """Whether adjoint launches want the gradient of texture row `tex` (a scalar or lanes of
    them, >= 0): bit min(tex, 31) of scene_i[SC_GRAD_TEXTURES]."""
    return (sc.scene_i[L.SC_GRAD_TEXTURES] >> ti.min(tex, 31)) & 1 != 0


@ti.func
def apply_texture_derivative(sc: ti.template(), ad: ti.template(), tex: ti.i32, uv: vec2, g: vec3,
                             delta: vec3, mode: ti.template()) -> vec3:
    """g = d(contribution) / d(texture value at uv), per channel.

    Adjoint: adds delta * g (delta: dLoss/d(sample value)) into the texture's gradient, returns 0;
    nothing for a texture whose gradient is not wanted (`gradient_wanted`).
    Forward: returns g * (tangent of the texture at uv)."""
    out = vec3(0.0)
    kind = sc.tex_i[tex, L.TI_TYPE]
    if ti.static(mode == MODE_ADJOINT):
        if not gradient_wanted(sc, tex):
            kind = -1
    if kind == -1:
        pass
    elif kind == L.TEX_BITMAP:
        if ti.static(sc.features & TEXTURES):
            idx, wt = bitmap_footprint(sc, tex, apply_to_uv(sc, tex, uv))
            for k in ti.static(range(4)):
                if wt[k] != 0.0:
                    if ti.static(mode == MODE_ADJOINT):
                        ti.atomic_add(ad.grad_texels[idx[k]], wt[k] * delta * g)
                    else:
                        out += wt[k] * g * ad.tan_texels[idx[k]]
    else:
        row = tex
        if ti.static(sc.features & TEXTURES):
            if kind == L.TEX_CHECKERBOARD:
                t = apply_to_uv(sc, tex, uv)
                mx = (t.x - ti.floor(t.x)) > 0.5
                my = (t.y - ti.floor(t.y)) > 0.5
                row = sc.tex_i[tex, L.TI_CHILD0] if mx == my else sc.tex_i[tex, L.TI_CHILD1]
        if ti.static(mode == MODE_ADJOINT):
            if gradient_wanted(sc, row):  # a checkerboard's colour may be wanted alone
                ti.atomic_add(ad.grad_rgb[row], delta * g)
        else:
            out = g * ad.tan_rgb[row]
    return out


MAX_TERMS = 6


@ti.func
def flush_terms(sc: ti.template(), ad: ti.template(), n: ti.i32, tex: ti.template(), uv: ti.template(),
                g: ti.template(), delta: vec3, mode: ti.template()) -> vec3:
    """Apply the first n derivative terms (texture tex[k], uv row k, g row k) collected at one
    path vertex, at a single inlined call site (fewer call sites compile faster)."""
    out = vec3(0.0)
    for k in range(n):
        if tex[k] >= 0:
            out += apply_texture_derivative(
                sc, ad, tex[k], vec2(uv[k, 0], uv[k, 1]), vec3(g[k, 0], g[k, 1], g[k, 2]), delta, mode
            )
    return out
