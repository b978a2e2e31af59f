"""The unidirectional path tracer (`path`, and `prb`'s primal and replay passes): next-event
estimation and BSDF sampling combined by MIS (power heuristic), Russian roulette.

One camera sample = one call of :func:`path_sample` with a counter-based RNG key; its random
numbers come from fixed dimensions per path vertex (rng.py), so a path can be replayed.

Modes (static):
- primal: one pass, returns the radiance estimate L.
- adjoint (path replay backpropagation, Vicini et al. 2021): a first pass computes L, a
  second pass replays the same path and, at every vertex, scatters dLoss/dL times the
  derivative of the contributions with respect to texture values into the gradient arrays,
  using the radiance still to come (L minus what was gathered so far). Memory stays constant
  in the path depth: nothing is stored per vertex.
- forward: the same replay, contracting derivatives with tangent arrays: returns dL.
"""

import taichi as ti

from . import layout as L
from . import rng
from .bsdf import has_smooth_lobe, resolve, sample, slot_textures
from .derivatives import MAX_TERMS, MODE_ADJOINT, MODE_PRIMAL, flush_terms, lobe_dlog, unit_correction
from .shape_derivatives import nee_geometry, triangle_scatter, triangle_tangent
from .emitters import sample_emitter
from .frame import frame_from_normal
from .intersect import INF, interaction_at, spawn_origin, trace
from .path_common import emission_lookup, emitter_pdf, evaluate_both, unoccluded
from .textures import eval_texture
from .warp import power_heuristic

vec2 = ti.math.vec2
vec3 = ti.math.vec3


@ti.func
def path_sample(sc: ti.template(), ad: ti.template(), key: ti.u32, o: vec3, d: vec3, tmax: ti.f32,
                max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32, delta: vec3, mode: ti.template()):
    """Radiance along one camera ray (Mitsuba's `path`; max_depth -1: unbounded).

    Returns (L, dL): dL is the forward-mode derivative (forward mode), else 0. In adjoint mode
    `delta` is dLoss/dL of this sample."""
    total = vec3(0.0)
    d_total = vec3(0.0)
    passes = 1 if ti.static(mode == MODE_PRIMAL) else 2
    for pass_index in range(passes):
        replay = pass_index == 1
        gathered = vec3(0.0)
        throughput = vec3(1.0)
        eta = 1.0
        prev_p = o
        prev_pdf = 1.0
        prev_delta = 1
        depth = 0
        ray_o = o
        ray_d = d
        ray_t = tmax
        alive = max_depth != 0
        while alive:
            n_terms = 0
            t_tex = ti.Vector([-1] * MAX_TERMS, ti.i32)
            t_uv = ti.Matrix.zero(ti.f32, MAX_TERMS, 2)
            t_g = ti.Matrix.zero(ti.f32, MAX_TERMS, 3)
            si = interaction_at(sc, trace(sc, ray_o, ray_d, ray_t, False), ray_o, ray_d)
            # ---- emission found by the BSDF-sampled (or camera) ray ----
            if depth > 0 or not hide_emitters:
                tex, uv, scale = emission_lookup(sc, si, ray_d)
                if tex >= 0:
                    w = 1.0
                    if not prev_delta:
                        w = power_heuristic(prev_pdf, emitter_pdf(sc, si, prev_p, ray_d))
                    gathered += throughput * eval_texture(sc, tex, uv) * (scale * w)
                    if ti.static(mode != MODE_PRIMAL):
                        t_tex[0] = tex
                        t_uv[0, 0], t_uv[0, 1] = uv.x, uv.y
                        g = throughput * (scale * w)
                        t_g[0, 0], t_g[0, 1], t_g[0, 2] = g.x, g.y, g.z
                        n_terms = 1
            if not si.valid or (max_depth > 0 and depth + 1 >= max_depth):
                alive = False
            else:
                b, flip = resolve(sc, sc.shape_i[si.shape, L.SI_BSDF], si.sh_n.dot(-ray_d))
                frame = frame_from_normal(si.sh_n * flip)
                wi = frame @ (-ray_d)
                tex0, tex1 = slot_textures(sc, b, si.uv)
                # vertex-position derivatives: diffuse surfaces of triangle meshes (the normal's
                # part only without shading normals)
                shape_terms = si.tri >= 0 and sc.bsdf_i[b, L.BI_TYPE] == L.BSDF_DIFFUSE
                receiver_normal = sc.shape_i[si.shape, L.SI_HAS_NORMALS] == 0
                # ---- emitter sampling and BSDF sampling ----
                es = sample_emitter(
                    sc, si.p,
                    rng.rand(key, rng.bounce_dim(depth, rng.OFS_EMITTER_SELECT)),
                    rng.rand2(key, rng.bounce_dim(depth, rng.OFS_EMITTER_2D)),
                )
                bs = sample(
                    sc, b, tex0, tex1, wi,
                    rng.rand(key, rng.bounce_dim(depth, rng.OFS_BSDF_1D)),
                    rng.rand2(key, rng.bounce_dim(depth, rng.OFS_BSDF_2D)),
                )
                em_active = has_smooth_lobe(sc, b) and es.pdf > 0.0 and es.weight.max() > 0.0
                em_value, em_bsdf_pdf, em_unit = evaluate_both(
                    sc, b, tex0, tex1, wi, frame @ es.d, em_active, bs, mode != MODE_PRIMAL
                )
                if em_value.max() > 0.0 and unoccluded(sc, si, es):
                    mis = 1.0 if es.delta else power_heuristic(es.pdf, em_bsdf_pdf)
                    contrib = throughput * em_value * es.weight * mis
                    gathered += contrib
                    if ti.static(mode != MODE_PRIMAL):
                        # emitted radiance at the sampled point, and the BSDF's smooth lobe
                        g_em = throughput * em_value * (mis * es.factor)
                        g0 = throughput * em_unit * unit_correction(sc, b, tex0) * es.weight * mis
                        t_tex[n_terms] = es.tex
                        t_uv[n_terms, 0], t_uv[n_terms, 1] = es.uv.x, es.uv.y
                        t_g[n_terms, 0], t_g[n_terms, 1], t_g[n_terms, 2] = g_em.x, g_em.y, g_em.z
                        t_tex[n_terms + 1] = sc.bsdf_i[b, L.BI_TEX0]
                        t_uv[n_terms + 1, 0], t_uv[n_terms + 1, 1] = si.uv.x, si.uv.y
                        t_g[n_terms + 1, 0], t_g[n_terms + 1, 1], t_g[n_terms + 1, 2] = g0.x, g0.y, g0.z
                        n_terms += 2
                        if replay and shape_terms and es.tri >= 0:
                            # geometry term of the emitter sample (receiver and emitter triangles)
                            g, gx, gn, gy, gnl, ga = nee_geometry(si.p, si.sh_n * flip, es.p, es.n,
                                                                  sc.em_f[es.emitter, L.EF_AREA])
                            if g > 0.0:
                                gn = gn * flip * ti.cast(receiver_normal, ti.f32)
                                if ti.static(mode == MODE_ADJOINT):
                                    wgt = delta.dot(contrib) / g
                                    triangle_scatter(sc, ad, si.tri, si.b, ray_d, 1, gx * wgt, gn * wgt)
                                    triangle_scatter(sc, ad, es.tri, es.b, ray_d, 0, gy * wgt, gnl * wgt)
                                    ti.atomic_add(ad.grad_area[es.emitter], ga * wgt)
                                else:
                                    dx, dn = triangle_tangent(sc, ad, si.tri, si.b, ray_d, 1)
                                    dy, dnl = triangle_tangent(sc, ad, es.tri, es.b, ray_d, 0)
                                    s_dot = gx.dot(dx) + gn.dot(dn) + gy.dot(dy) + gnl.dot(dnl)
                                    s_dot += ga * ad.tan_area[es.emitter]
                                    d_total += contrib * (s_dot / g)
                if not bs.valid:
                    alive = False
                else:
                    if ti.static(mode != MODE_PRIMAL):
                        # everything still to come passes through this vertex's sampled lobe
                        future = total - gathered
                        a0, a1 = lobe_dlog(sc, b, tex0, tex1, bs.delta, ti.i32(bs.wo.z * wi.z > 0.0))
                        g0 = future * a0
                        g1 = future * a1
                        t_tex[n_terms] = sc.bsdf_i[b, L.BI_TEX0]
                        t_uv[n_terms, 0], t_uv[n_terms, 1] = si.uv.x, si.uv.y
                        t_g[n_terms, 0], t_g[n_terms, 1], t_g[n_terms, 2] = g0.x, g0.y, g0.z
                        t_tex[n_terms + 1] = sc.bsdf_i[b, L.BI_TEX1]
                        t_uv[n_terms + 1, 0], t_uv[n_terms + 1, 1] = si.uv.x, si.uv.y
                        t_g[n_terms + 1, 0], t_g[n_terms + 1, 1], t_g[n_terms + 1, 2] = g1.x, g1.y, g1.z
                        n_terms += 2
                        if replay and shape_terms and receiver_normal and not bs.delta and bs.wo.z > 0.0:
                            # the cosine of the sampled direction, through the normal
                            gn = (frame.transpose() @ bs.wo) * (flip / bs.wo.z)
                            if ti.static(mode == MODE_ADJOINT):
                                triangle_scatter(sc, ad, si.tri, si.b, ray_d, 1, vec3(0.0), gn * delta.dot(future))
                            else:
                                dx, dn = triangle_tangent(sc, ad, si.tri, si.b, ray_d, 1)
                                d_total += future * gn.dot(dn)
                    new_d = (frame.transpose() @ bs.wo).normalized()
                    throughput *= bs.weight
                    eta *= bs.eta
                    prev_p = si.p
                    prev_pdf = bs.pdf
                    prev_delta = bs.delta
                    ray_o = spawn_origin(si.p, si.n, new_d)
                    ray_d = new_d
                    ray_t = INF
                    depth += 1
                    # ---- Russian roulette ----
                    tp_max = throughput.max()
                    if depth >= rr_depth:
                        rr_prob = ti.min(tp_max * eta * eta, 0.95)
                        if rng.rand(key, rng.bounce_dim(depth - 1, rng.OFS_RR)) >= rr_prob:
                            alive = False
                        else:
                            throughput /= rr_prob
                    if tp_max <= 0.0:
                        alive = False
            if ti.static(mode != MODE_PRIMAL):
                if replay and n_terms > 0:
                    d_total += flush_terms(sc, ad, n_terms, t_tex, t_uv, t_g, delta, mode)
        if not replay:
            total = gathered
    return total, d_total
