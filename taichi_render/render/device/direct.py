"""Mitsuba's `direct` integrator (direct illumination only), primal only."""

import taichi as ti

from .. import layout as L
from . import rng
from .bsdf import eval_pdf, has_smooth_lobe, resolve, sample, slot_textures
from .emitters import sample_emitter
from .frame import frame_from_normal
from .intersect import INF, interaction_at, spawn_origin, trace
from .path_common import emitted, emitter_pdf, evaluate_both, unoccluded
from .warp import power_heuristic

vec3 = ti.math.vec3


@ti.func
def direct_radiance(sc: ti.template(), key: ti.u32, o: vec3, d: vec3, tmax: ti.f32,
                    emitter_samples: ti.i32, bsdf_samples: ti.i32, hide_emitters: ti.i32) -> vec3:
    """Mitsuba's `direct` integrator: emitter and BSDF samples combined by MIS, the strategies'
    densities weighted by their sample counts."""
    result = vec3(0.0)
    si = interaction_at(sc, trace(sc, o, d, tmax, False), o, d)
    if not hide_emitters:
        result += emitted(sc, si, d)
    if si.valid:
        b, flip = resolve(sc, sc.shape_i[si.shape, L.SI_BSDF], si.sh_n.dot(-d))
        frame = frame_from_normal(si.sh_n * flip)
        wi = frame @ (-d)
        tex0, tex1 = slot_textures(sc, b, si.uv)
        n_em = ti.cast(emitter_samples, ti.f32)
        n_bsdf = ti.cast(bsdf_samples, ti.f32)
        frac_em = n_em / (n_em + n_bsdf)
        frac_bsdf = n_bsdf / (n_em + n_bsdf)
        for i in range(emitter_samples + bsdf_samples):
            if i < emitter_samples:
                es = sample_emitter(
                    sc, si.p,
                    rng.rand(key, rng.bounce_dim(i, rng.OFS_EMITTER_SELECT)),
                    rng.rand2(key, rng.bounce_dim(i, rng.OFS_EMITTER_2D)),
                )
                if has_smooth_lobe(sc, b) and es.pdf > 0.0 and es.weight.max() > 0.0:
                    value, bsdf_pdf = eval_pdf(sc, b, tex0, tex1, wi, frame @ es.d)
                    if value.max() > 0.0 and unoccluded(sc, si, es):
                        mis = 1.0 if es.delta else power_heuristic(es.pdf * frac_em, bsdf_pdf * frac_bsdf)
                        result += value * es.weight * mis / n_em
            else:
                j = i - emitter_samples
                bs = sample(
                    sc, b, tex0, tex1, wi,
                    rng.rand(key, rng.bounce_dim(j, rng.OFS_BSDF_1D)),
                    rng.rand2(key, rng.bounce_dim(j, rng.OFS_BSDF_2D)),
                )
                evaluate_both(sc, b, tex0, tex1, wi, bs.wo, 0, bs, False)
                if bs.valid:
                    nd = (frame.transpose() @ bs.wo).normalized()
                    ro = spawn_origin(si.p, si.n, nd)
                    si2 = interaction_at(sc, trace(sc, ro, nd, INF, False), ro, nd)
                    le = emitted(sc, si2, nd)
                    if le.max() > 0.0:
                        w = 1.0
                        if not bs.delta:
                            w = power_heuristic(bs.pdf * frac_bsdf, emitter_pdf(sc, si2, si.p, nd) * frac_em)
                        result += bs.weight * le * w / n_bsdf
    return result
