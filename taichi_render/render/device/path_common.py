"""Building blocks shared by the path tracer and the direct integrator: emission found by a
ray, emitter-sampling densities for MIS, shadow rays, and the shared BSDF evaluation site."""

import taichi as ti

from .. import layout as L
from .bsdf import eval_pdf
from .emitters import area_lookup, environment_lookup, pdf_area, pdf_environment
from .intersect import occluded, shadow_ray_to
from .textures import eval_texture

vec2 = ti.math.vec2
vec3 = ti.math.vec3


@ti.func
def emission_lookup(sc: ti.template(), si: ti.template(), d: vec3):
    """(texture, uv, scale) of the radiance emitted towards the ray origin by what the ray
    (direction d) found; texture -1 when nothing emits."""
    tex = -1
    uv = si.uv
    scale = 1.0
    if si.valid:
        tex = area_lookup(sc, si.shape, si.sh_n, d)
    else:
        tex, uv, scale = environment_lookup(sc, d)
    return tex, uv, scale


@ti.func
def emitted(sc: ti.template(), si: ti.template(), d: vec3) -> vec3:
    """Radiance emitted towards the ray origin by what the ray (direction d) found."""
    tex, uv, scale = emission_lookup(sc, si, d)
    result = vec3(0.0)
    if tex >= 0:
        result = eval_texture(sc, tex, uv) * scale
    return result


@ti.func
def emitter_pdf(sc: ti.template(), si: ti.template(), ref_p: vec3, d: vec3) -> ti.f32:
    """Density with which emitter sampling from ref_p would have produced this hit."""
    pdf = 0.0
    if si.valid:
        pdf = pdf_area(sc, si.shape, ref_p, si.p, si.n)
    else:
        pdf = pdf_environment(sc, d)
    return pdf


@ti.func
def unoccluded(sc: ti.template(), si: ti.template(), es: ti.template()) -> ti.i32:
    """Shadow ray from the surface point towards an emitter sample."""
    origin, d, tmax = shadow_ray_to(si.p, si.n, es.d, es.dist)
    return 1 - occluded(sc, origin, d, tmax)


@ti.func
def evaluate_both(sc: ti.template(), b: ti.i32, tex0: vec3, tex1: vec3, wi: vec3, wo_emitter: vec3,
                  emitter_active: ti.i32, bs: ti.template(), with_unit: ti.template()):
    """Evaluate the smooth lobes for the emitter direction and the BSDF-sampled direction at one
    inlined `eval_pdf` site. Fills bs.weight/pdf of smooth samples; returns the emitter
    direction's f * cos (vec3) and bsdf pdf, then `units`, a 4x3 matrix whose rows are f * cos
    per unit of a texture slot: (emitter direction, slot 0), (emitter direction, slot 1),
    (sampled direction, slot 0), (sampled direction, slot 1).

    The units (`with_unit`, derivative modes) are the value with that slot = 1 and the other 0:
    the derivative of a lobe that is linear in the slot, defined even where the slot's value is
    0 (where dividing by it, as the indirect term must, loses the gradient). Only `roughplastic`
    (a sum of lobes of both slots) and `roughdielectric` (slot 0 or 1 by the side of wo) have
    smooth values that depend on slot 1; for every other BSDF the slot-1 rows and the
    sampled-direction rows are not evaluated (zero), and the caller uses the lobe's own
    derivative (`lobe_dlog`)."""
    em_value = vec3(0.0)
    em_pdf = 0.0
    units = ti.Matrix.zero(ti.f32, 4, 3)
    n_evals = 6 if ti.static(with_unit) else 2
    kind = sc.bsdf_i[b, L.BI_TYPE]
    both_slots = kind == L.BSDF_ROUGHPLASTIC or kind == L.BSDF_ROUGHDIELECTRIC
    for k in range(n_evals):
        # k: 0 emitter direction, 1 sampled direction, then the units' rows 2..5
        towards_sample = k == 1 or k >= 4
        active = bs.valid and not bs.delta if towards_sample else emitter_active
        if k >= 3 and not both_slots:
            active = False
        if active:
            wo = wo_emitter
            t0 = tex0
            t1 = tex1
            if towards_sample:
                wo = bs.wo
            if k >= 2:
                slot0 = k % 2 == 0
                t0 = vec3(1.0) if slot0 else vec3(0.0)
                t1 = vec3(0.0) if slot0 else vec3(1.0)
            value, pdf = eval_pdf(sc, b, t0, t1, wi, wo)
            if k == 0:
                em_value = value
                em_pdf = pdf
            elif k == 1:
                bs.pdf = pdf
                bs.valid = ti.i32(pdf > 0.0)
                if pdf > 0.0:
                    bs.weight = value / pdf
            else:
                for c in ti.static(range(3)):
                    units[k - 2, c] = value[c]
    return em_value, em_pdf, units
