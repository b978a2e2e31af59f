"""BSDF evaluation and sampling in the local shading frame (z = shading normal).

Conventions follow Mitsuba 3: `wi` points away from the surface towards the previous vertex,
`eval` returns f(wi, wo) * |cos(theta_o)|, and `sample` returns the weight
f * |cos(theta_o)| / pdf. Delta lobes (dielectrics, smooth conductors, the plastic coating)
are never evaluated, only sampled. `twosided` is resolved before these are called
(:func:`resolve`), so they see a leaf BSDF whose front side faces `wi`.
"""

import taichi as ti

from ...bsdfs.roughplastic import TRANSMITTANCE_RESOLUTION
from .. import layout as L
from ..view import MATERIALS
from .frame import reflect, refract
from .fresnel import fresnel_conductor, fresnel_dielectric
from .microfacet import ndf, pdf_normal, sample_normal, smith_g1
from .textures import eval_texture
from .warp import INV_PI, square_to_cosine_hemisphere, square_to_cosine_hemisphere_pdf

vec2 = ti.math.vec2
vec3 = ti.math.vec3

BSDFSample = ti.types.struct(wo=vec3, pdf=ti.f32, eta=ti.f32, weight=vec3, delta=ti.i32, valid=ti.i32)


@ti.func
def resolve(sc: ti.template(), b: ti.i32, cos_theta_i: ti.f32):
    """Leaf BSDF and a flip flag (+1/-1) for the side `wi` is on (twosided picks brdf_1 behind)."""
    leaf = b
    flip = 1.0
    if sc.bsdf_i[b, L.BI_TYPE] == L.BSDF_TWOSIDED:
        if cos_theta_i < 0.0:
            leaf = sc.bsdf_i[b, L.BI_CHILD1]
            flip = -1.0
        else:
            leaf = sc.bsdf_i[b, L.BI_CHILD0]
    return leaf, flip


@ti.func
def has_smooth_lobe(sc: ti.template(), b: ti.i32) -> ti.i32:
    """Whether the BSDF has a non-delta component (emitter sampling is then worthwhile)."""
    kind = sc.bsdf_i[b, L.BI_TYPE]
    return ti.i32(kind == L.BSDF_DIFFUSE or kind == L.BSDF_ROUGHCONDUCTOR or kind == L.BSDF_PLASTIC
                  or kind == L.BSDF_ROUGHPLASTIC or kind == L.BSDF_ROUGHDIELECTRIC)


@ti.func
def _conductor_fresnel(sc: ti.template(), b: ti.i32, cos_theta: ti.f32) -> vec3:
    f = vec3(1.0)
    if sc.bsdf_f[b, L.BF_PERFECT_MIRROR] == 0.0:
        eta = vec3(sc.bsdf_f[b, L.BF_COND_ETA], sc.bsdf_f[b, L.BF_COND_ETA + 1], sc.bsdf_f[b, L.BF_COND_ETA + 2])
        k = vec3(sc.bsdf_f[b, L.BF_COND_K], sc.bsdf_f[b, L.BF_COND_K + 1], sc.bsdf_f[b, L.BF_COND_K + 2])
        f = fresnel_conductor(cos_theta, eta, k)
    return f


@ti.func
def _plastic_probs(sc: ti.template(), b: ti.i32, f_i: ti.f32):
    w = sc.bsdf_f[b, L.BF_SPEC_WEIGHT]
    ps = f_i * w
    pd = (1.0 - f_i) * (1.0 - w)
    total = ps + pd
    ps = ps / total if total > 0.0 else 0.0
    return ps, 1.0 - ps


@ti.func
def _coating_transmittance(sc: ti.template(), b: ti.i32, cos_theta: ti.f32) -> ti.f32:
    """Rough plastic's coating transmittance at cos_theta: its table, linearly interpolated."""
    offset = sc.bsdf_i[b, L.BI_TABLE]
    x = cos_theta * (TRANSMITTANCE_RESOLUTION - 1)
    i = ti.min(ti.cast(x, ti.i32), TRANSMITTANCE_RESOLUTION - 2)
    w1 = x - ti.cast(i, ti.f32)
    return (1.0 - w1) * sc.dist[offset + i] + w1 * sc.dist[offset + i + 1]


@ti.func
def _plastic_diffuse(sc: ti.template(), b: ti.i32, diff: vec3) -> vec3:
    fdr = sc.bsdf_f[b, L.BF_FDR_INT]
    if sc.bsdf_i[b, L.BI_NONLINEAR]:
        diff = diff / (1.0 - diff * fdr)
    else:
        diff = diff / (1.0 - fdr)
    return diff


@ti.func
def slot_textures(sc: ti.template(), b: ti.i32, uv: vec2):
    """Values of the two texture slots of leaf BSDF `b` at uv (layout.BI_TEX0, BI_TEX1).

    Evaluated once per path vertex, with a single inlined lookup for both slots, and handed to
    `eval_pdf`/`sample`: Taichi inlines every call site, so fewer sites compile faster."""
    vals = ti.Matrix.zero(ti.f32, 2, 3)
    for k in range(2):
        t = sc.bsdf_i[b, L.BI_TEX0 + k]
        if t >= 0:
            v = eval_texture(sc, t, uv)
            for c in ti.static(range(3)):
                vals[k, c] = v[c]
    return vec3(vals[0, 0], vals[0, 1], vals[0, 2]), vec3(vals[1, 0], vals[1, 1], vals[1, 2])


@ti.func
def _rough_dielectric_eval_pdf(sc: ti.template(), b: ti.i32, tex0: vec3, tex1: vec3, wi: vec3, wo: vec3):
    """Rough dielectric (Walter et al. 2007, Mitsuba's roughdielectric) on either side: the
    reflection lobe (tex0) where wi and wo share a side, the refraction lobe (tex1) otherwise,
    with the generalized half vector; radiance crossing the interface is scaled by 1 / eta^2."""
    value = vec3(0.0)
    pdf = 0.0
    cos_i = wi.z
    if cos_i != 0.0:
        au = sc.bsdf_f[b, L.BF_ALPHA_U]
        av = sc.bsdf_f[b, L.BF_ALPHA_V]
        ggx = sc.bsdf_i[b, L.BI_DISTRIBUTION]
        eta = sc.bsdf_f[b, L.BF_ETA]
        reflected = cos_i * wo.z > 0.0
        eta_rel = eta if cos_i > 0.0 else 1.0 / eta  # inside / outside, seen from wi's side
        m = (wi + wo * (1.0 if reflected else eta_rel)).normalized()
        if m.z < 0.0:
            m = -m
        dot_i = wi.dot(m)
        dot_o = wo.dot(m)
        if dot_i * cos_i > 0.0 and dot_o * wo.z > 0.0:
            d = ndf(m, au, av, ggx)
            g = smith_g1(wi, m, au, av, ggx) * smith_g1(wo, m, au, av, ggx)
            f, _, _, _ = fresnel_dielectric(dot_i, eta)
            pdf_m = pdf_normal(wi if cos_i > 0.0 else -wi, m, au, av, ggx)
            if reflected:
                value = tex0 * (f * d * g / (4.0 * ti.abs(cos_i)))
                pdf = pdf_m * f / (4.0 * ti.abs(dot_o))
            else:
                denom = dot_i + eta_rel * dot_o
                # the BTDF's eta_rel^2 and the radiance scale 1 / eta_rel^2 cancel
                value = tex1 * ti.abs((1.0 - f) * d * g * dot_i * dot_o / (cos_i * denom * denom))
                pdf = pdf_m * (1.0 - f) * eta_rel * eta_rel * ti.abs(dot_o) / (denom * denom)
    return value, pdf


@ti.func
def eval_pdf(sc: ti.template(), b: ti.i32, tex0: vec3, tex1: vec3, wi: vec3, wo: vec3):
    """(f * cos_theta_o (vec3), pdf of sampling wo) of the smooth lobes of leaf BSDF `b`.

    tex0, tex1: values of the BSDF's texture slots at the shading point."""
    kind = sc.bsdf_i[b, L.BI_TYPE]
    value = vec3(0.0)
    pdf = 0.0
    if ti.static(sc.features & MATERIALS) and kind == L.BSDF_ROUGHDIELECTRIC:
        value, pdf = _rough_dielectric_eval_pdf(sc, b, tex0, tex1, wi, wo)
    elif wi.z > 0.0 and wo.z > 0.0:
        if kind == L.BSDF_DIFFUSE:
            value = tex0 * (INV_PI * wo.z)
            pdf = square_to_cosine_hemisphere_pdf(wo)
        elif ti.static(sc.features & MATERIALS):
            if kind == L.BSDF_ROUGHCONDUCTOR:
                au = sc.bsdf_f[b, L.BF_ALPHA_U]
                av = sc.bsdf_f[b, L.BF_ALPHA_V]
                ggx = sc.bsdf_i[b, L.BI_DISTRIBUTION]
                h = (wi + wo).normalized()
                d = ndf(h, au, av, ggx)
                g = smith_g1(wi, h, au, av, ggx) * smith_g1(wo, h, au, av, ggx)
                f = _conductor_fresnel(sc, b, wi.dot(h))
                value = f * tex0 * (d * g / (4.0 * wi.z))
                pdf = pdf_normal(wi, h, au, av, ggx) / (4.0 * wo.dot(h))
            elif kind == L.BSDF_PLASTIC:
                eta = sc.bsdf_f[b, L.BF_ETA]
                f_i, _, _, _ = fresnel_dielectric(wi.z, eta)
                f_o, _, _, _ = fresnel_dielectric(wo.z, eta)
                diff = _plastic_diffuse(sc, b, tex0)
                value = diff * ((1.0 - f_i) * (1.0 - f_o) / (eta * eta) * INV_PI * wo.z)
                _, pd = _plastic_probs(sc, b, f_i)
                pdf = pd * square_to_cosine_hemisphere_pdf(wo)
            elif kind == L.BSDF_ROUGHPLASTIC:
                eta = sc.bsdf_f[b, L.BF_ETA]
                alpha = sc.bsdf_f[b, L.BF_ALPHA_U]
                ggx = sc.bsdf_i[b, L.BI_DISTRIBUTION]
                h = (wi + wo).normalized()
                f, _, _, _ = fresnel_dielectric(wi.dot(h), eta)
                d = ndf(h, alpha, alpha, ggx)
                g = smith_g1(wi, h, alpha, alpha, ggx) * smith_g1(wo, h, alpha, alpha, ggx)
                t_i = _coating_transmittance(sc, b, wi.z)
                t_o = _coating_transmittance(sc, b, wo.z)
                diff = _plastic_diffuse(sc, b, tex0)
                value = tex1 * (f * d * g / (4.0 * wi.z)) + diff * (INV_PI / (eta * eta) * wo.z * t_i * t_o)
                ps, pd = _plastic_probs(sc, b, 1.0 - t_i)
                pdf = ps * pdf_normal(wi, h, alpha, alpha, ggx) / (4.0 * wo.dot(h))
                pdf += pd * square_to_cosine_hemisphere_pdf(wo)
    return value, pdf


@ti.func
def sample(sc: ti.template(), b: ti.i32, tex0: vec3, tex1: vec3, wi: vec3, s1: ti.f32, s2: vec2) -> BSDFSample:
    """Sample an outgoing direction of leaf BSDF `b` (Mitsuba's `BSDF::sample`).

    Delta lobes come back complete. For smooth lobes only `wo` is set (valid = 1, delta = 0,
    pdf = 0): the caller evaluates them with `eval_pdf`, at the one call site it shares with
    emitter sampling, and sets weight = value / pdf."""
    kind = sc.bsdf_i[b, L.BI_TYPE]
    bs = BSDFSample(wo=vec3(0.0, 0.0, 1.0), pdf=0.0, eta=1.0, weight=vec3(0.0), delta=0, valid=0)
    if kind == L.BSDF_DIFFUSE:
        if wi.z > 0.0:
            bs.wo = square_to_cosine_hemisphere(s2)
            bs.valid = 1
    elif ti.static(sc.features & MATERIALS):
        if kind == L.BSDF_DIELECTRIC:
            eta = sc.bsdf_f[b, L.BF_ETA]
            r_i, cos_t, eta_it, eta_ti = fresnel_dielectric(wi.z, eta)
            bs.delta = 1
            bs.valid = 1
            if s1 <= r_i:
                bs.wo = reflect(wi)
                bs.pdf = r_i
                bs.weight = tex0
            else:
                bs.wo = refract(wi, cos_t, eta_ti)
                bs.pdf = 1.0 - r_i
                bs.eta = eta_it
                # radiance is scaled by the solid angle compression across the interface
                bs.weight = tex1 * (eta_ti * eta_ti)
        elif kind == L.BSDF_THINDIELECTRIC:
            eta = sc.bsdf_f[b, L.BF_ETA]
            r, _, _, _ = fresnel_dielectric(ti.abs(wi.z), eta)
            if r < 1.0:
                r += (1.0 - r) * (1.0 - r) * r / (1.0 - r * r)  # inter-reflections inside the slab
            bs.delta = 1
            bs.valid = 1
            if s1 <= r:
                bs.wo = reflect(wi)
                bs.pdf = r
                bs.weight = tex0
            else:
                bs.wo = -wi
                bs.pdf = 1.0 - r
                bs.weight = tex1
        elif kind == L.BSDF_CONDUCTOR:
            if wi.z > 0.0:
                bs.wo = reflect(wi)
                bs.pdf = 1.0
                bs.delta = 1
                bs.valid = 1
                bs.weight = tex0 * _conductor_fresnel(sc, b, wi.z)
        elif kind == L.BSDF_ROUGHCONDUCTOR:
            if wi.z > 0.0:
                m = sample_normal(wi, s2, sc.bsdf_f[b, L.BF_ALPHA_U], sc.bsdf_f[b, L.BF_ALPHA_V],
                                  sc.bsdf_i[b, L.BI_DISTRIBUTION])
                bs.wo = 2.0 * wi.dot(m) * m - wi
                bs.valid = ti.i32(bs.wo.z > 0.0)
        elif kind == L.BSDF_PLASTIC:
            if wi.z > 0.0:
                f_i, _, _, _ = fresnel_dielectric(wi.z, sc.bsdf_f[b, L.BF_ETA])
                ps, _ = _plastic_probs(sc, b, f_i)
                bs.valid = 1
                if s1 < ps:
                    bs.wo = reflect(wi)
                    bs.pdf = ps
                    bs.delta = 1
                    bs.weight = tex1 * (f_i / ps)
                else:
                    bs.wo = square_to_cosine_hemisphere(s2)
        elif kind == L.BSDF_ROUGHDIELECTRIC:
            if wi.z != 0.0:
                side = 1.0 if wi.z > 0.0 else -1.0
                m = sample_normal(wi * side, s2, sc.bsdf_f[b, L.BF_ALPHA_U], sc.bsdf_f[b, L.BF_ALPHA_V],
                                  sc.bsdf_i[b, L.BI_DISTRIBUTION])
                dot_i = wi.dot(m)
                f, cos_t, eta_it, eta_ti = fresnel_dielectric(dot_i, sc.bsdf_f[b, L.BF_ETA])
                if s1 <= f:
                    bs.wo = 2.0 * dot_i * m - wi
                    bs.valid = ti.i32(bs.wo.z * wi.z > 0.0)
                else:
                    bs.wo = m * (dot_i * eta_ti + cos_t) - wi * eta_ti
                    bs.eta = eta_it
                    bs.valid = ti.i32(bs.wo.z * wi.z < 0.0)
        elif kind == L.BSDF_ROUGHPLASTIC:
            if wi.z > 0.0:
                ps, _ = _plastic_probs(sc, b, 1.0 - _coating_transmittance(sc, b, wi.z))
                bs.valid = 1
                if s1 < ps:
                    alpha = sc.bsdf_f[b, L.BF_ALPHA_U]
                    m = sample_normal(wi, s2, alpha, alpha, sc.bsdf_i[b, L.BI_DISTRIBUTION])
                    bs.wo = 2.0 * wi.dot(m) * m - wi
                    bs.valid = ti.i32(bs.wo.z > 0.0)
                else:
                    bs.wo = square_to_cosine_hemisphere(s2)
    return bs
