"""Building blocks shared by the path tracer and the direct integrator: emission found by a
ray, emitter-sampling densities for MIS, shadow rays, and the shared BSDF evaluation site."""

import taichi as ti

from .bsdf import eval_pdf
from .emitters import area_lookup, environment_lookup, pdf_area, pdf_environment
from .intersect import INF, SHADOW_EPSILON, occluded, spawn_origin
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
    origin = spawn_origin(si.p, si.n, es.d)
    tmax = es.dist * (1.0 - SHADOW_EPSILON) if es.dist < INF else INF
    return 1 - occluded(sc, origin, es.d, tmax)


@ti.func
def evaluate_both(sc: ti.template(), b: ti.i32, tex0: vec3, tex1: vec3, wi: vec3, wo_emitter: vec3,
                  emitter_active: ti.i32, bs: ti.template(), with_unit: ti.template()):
    """Evaluate the smooth lobes for the emitter direction and the BSDF-sampled direction at one
    inlined `eval_pdf` site. Fills bs.weight/pdf of smooth samples; returns the emitter
    direction's (f * cos, bsdf pdf, f * cos per unit of the first texture slot).

    The last value (`with_unit`, derivative modes) is the value with tex0 = 1: the derivative
    of a lobe that is linear in tex0, defined even where tex0 = 0 (where dividing by tex0, as
    the indirect term must, loses the gradient)."""
    em_value = vec3(0.0)
    em_pdf = 0.0
    em_unit = vec3(0.0)
    n_evals = 3 if ti.static(with_unit) else 2
    for k in range(n_evals):
        active = bs.valid and not bs.delta if k == 1 else emitter_active
        if active:
            wo = wo_emitter
            t0 = tex0
            if k == 1:
                wo = bs.wo
            if k == 2:
                t0 = vec3(1.0)
            value, pdf = eval_pdf(sc, b, t0, tex1, wi, wo)
            if k == 0:
                em_value = value
                em_pdf = pdf
            elif k == 1:
                bs.pdf = pdf
                bs.valid = ti.i32(pdf > 0.0)
                if pdf > 0.0:
                    bs.weight = value / pdf
            else:
                em_unit = value
    return em_value, em_pdf, em_unit
