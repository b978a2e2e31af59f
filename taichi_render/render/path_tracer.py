"""Primal estimators: the unidirectional path tracer (`path`) and the direct illumination
integrator (`direct`), both with next-event estimation and MIS by the power heuristic.

One camera sample = one call of an estimator with a counter-based RNG key; its random numbers
come from fixed dimensions per path vertex (rng.py), so any path can be replayed.
"""

import taichi as ti

from . import layout as L
from . import rng
from .bsdf import eval_pdf, has_smooth_lobe, resolve, sample, slot_textures
from .camera import camera_ray, gaussian_weight
from .emitters import area_lookup, environment_lookup, pdf_area, pdf_environment, sample_emitter
from .frame import frame_from_normal
from .textures import eval_texture
from .intersect import INF, SHADOW_EPSILON, interaction_at, occluded, spawn_origin, trace
from .view import F_1, F_2, I_1, I_2, IMG, IV2_1, IV4_1, V2_1, V3_1, V3_2, SceneView
from .warp import power_heuristic

vec2 = ti.math.vec2
vec3 = ti.math.vec3

INTEGRATOR_PATH = 0
INTEGRATOR_DIRECT = 1


@ti.func
def emitted(sc: ti.template(), si: ti.template(), d: vec3) -> vec3:
    """Radiance emitted towards the ray origin by what the ray (direction d) found."""
    tex = -1
    uv = si.uv
    scale = 1.0
    if si.valid:
        tex = area_lookup(sc, si.shape, si.sh_n, d)
    else:
        tex, uv, scale = environment_lookup(sc, d)
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
def path_radiance(sc: ti.template(), key: ti.u32, o: vec3, d: vec3, tmax: ti.f32,
                  max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32) -> vec3:
    """Mitsuba's `path` integrator for one camera ray (max_depth -1: unbounded)."""
    result = vec3(0.0)
    throughput = vec3(1.0)
    eta = 1.0
    prev_p = o
    prev_pdf = 1.0
    prev_delta = 1
    depth = 0
    ray_o = o
    ray_d = d
    ray_t = tmax
    while max_depth != 0:
        si = interaction_at(sc, trace(sc, ray_o, ray_d, ray_t, False), ray_o, ray_d)
        # ---- emission found by the BSDF-sampled (or camera) ray ----
        if depth > 0 or not hide_emitters:
            le = emitted(sc, si, ray_d)
            if le.max() > 0.0:
                w = 1.0
                if not prev_delta:
                    w = power_heuristic(prev_pdf, emitter_pdf(sc, si, prev_p, ray_d))
                result += throughput * le * w
        if not si.valid or (max_depth > 0 and depth + 1 >= max_depth):
            break
        b, flip = resolve(sc, sc.shape_i[si.shape, L.SI_BSDF], si.sh_n.dot(-ray_d))
        frame = frame_from_normal(si.sh_n * flip)
        wi = frame @ (-ray_d)
        tex0, tex1 = slot_textures(sc, b, si.uv)
        smooth = has_smooth_lobe(sc, b)
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
        em_value, em_bsdf_pdf = evaluate_both(sc, b, tex0, tex1, wi, frame @ es.d,
                                              smooth and es.pdf > 0.0 and es.weight.max() > 0.0, bs)
        if em_value.max() > 0.0 and unoccluded(sc, si, es):
            mis = 1.0 if es.delta else power_heuristic(es.pdf, em_bsdf_pdf)
            result += throughput * em_value * es.weight * mis
        if not bs.valid:
            break
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
                break
            throughput /= rr_prob
        if tp_max <= 0.0:
            break
    return result


@ti.func
def evaluate_both(sc: ti.template(), b: ti.i32, tex0: vec3, tex1: vec3, wi: vec3, wo_emitter: vec3,
                  emitter_active: ti.i32, bs: ti.template()):
    """Evaluate the smooth lobes for the emitter direction and the BSDF-sampled direction at one
    inlined `eval_pdf` site. Fills bs.weight/pdf of smooth samples; returns the emitter
    direction's (f * cos, bsdf pdf)."""
    em_value = vec3(0.0)
    em_pdf = 0.0
    for k in range(2):
        active = emitter_active if k == 0 else (bs.valid and not bs.delta)
        if active:
            wo = wo_emitter
            if k == 1:
                wo = bs.wo
            value, pdf = eval_pdf(sc, b, tex0, tex1, wi, wo)
            if k == 0:
                em_value = value
                em_pdf = pdf
            else:
                bs.pdf = pdf
                bs.valid = ti.i32(pdf > 0.0)
                if pdf > 0.0:
                    bs.weight = value / pdf
    return em_value, em_pdf


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
                evaluate_both(sc, b, tex0, tex1, wi, bs.wo, 0, bs)
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


@ti.func
def render_pixel(sc: ti.template(), accum: ti.template(), weight: ti.template(), y: ti.i32, x: ti.i32,
                 integrator: ti.template(), seed: ti.u32, spp: ti.i32, sample_offset: ti.i32,
                 int_a: ti.i32, int_b: ti.i32, hide_emitters: ti.i32,
                 rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32):
    height = accum.shape[0]
    width = accum.shape[1]
    pixel = ti.cast(y * width + x, ti.u32)
    total = vec3(0.0)
    for s in range(spp):
        key = rng.sample_key(seed, pixel, ti.cast(s + sample_offset, ti.u32))
        pos = vec2(x, y) + rng.rand2(key, rng.DIM_FILM)
        crop = L.CAM_CROP
        film_uv = vec2((pos.x + sc.cam[crop]) / sc.cam[crop + 2], (pos.y + sc.cam[crop + 1]) / sc.cam[crop + 3])
        o, d, tmax = camera_ray(sc, film_uv)
        value = vec3(0.0)
        if ti.static(integrator == INTEGRATOR_PATH):
            value = path_radiance(sc, key, o, d, tmax, int_a, int_b, hide_emitters)
        else:
            value = direct_radiance(sc, key, o, d, tmax, int_a, int_b, hide_emitters)
        if not (value.x == value.x and value.y == value.y and value.z == value.z):
            value = vec3(0.0)  # a NaN sample must not poison the pixel
        if rfilter == L.RFILTER_BOX:
            total += value
        else:
            r = ti.cast(ti.ceil(filter_radius - 0.5), ti.i32)
            for dy, dx in ti.ndrange((-r, r + 1), (-r, r + 1)):
                px = x + dx
                py = y + dy
                if 0 <= px < width and 0 <= py < height:
                    w = gaussian_weight(px + 0.5 - pos.x, filter_stddev, filter_radius) * gaussian_weight(
                        py + 0.5 - pos.y, filter_stddev, filter_radius
                    )
                    if w > 0.0:
                        ti.atomic_add(accum[py, px], w * value)
                        ti.atomic_add(weight[py, px], w)
    if rfilter == L.RFILTER_BOX:
        accum[y, x] += total
        weight[y, x] += ti.cast(spp, ti.f32)


@ti.kernel
def render_kernel(
    tri_p: V3_2, tri_v: IV4_1, vtx_n: V3_1, vtx_uv: V2_1, prim: IV2_1, node_box: V3_2, node_i: IV2_1,
    shape_i: I_2, shape_f: F_2, bsdf_i: I_2, bsdf_f: F_2, tex_i: I_2, tex_f: F_2, tex_rgb: V3_1,
    texels: V3_1, em_i: I_2, em_f: F_2, dist: F_1, scene_i: I_1, cam: F_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2),
    integrator: ti.template(), seed: ti.u32, spp: ti.i32, sample_offset: ti.i32,
    int_a: ti.i32, int_b: ti.i32, hide_emitters: ti.i32,
    rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32,
):
    """Add `spp` samples per pixel to `accum` and their filter weights to `weight` (box filter:
    each sample in its own pixel; Gaussian: splatted to neighbours); normalise afterwards.

    `int_a`, `int_b`: (max_depth, rr_depth) for `path`, (emitter_samples, bsdf_samples) for `direct`.
    """
    for y, x in ti.ndrange(accum.shape[0], accum.shape[1]):
        render_pixel(
            SceneView(tri_p, tri_v, vtx_n, vtx_uv, prim, node_box, node_i, shape_i, shape_f, bsdf_i,
                      bsdf_f, tex_i, tex_f, tex_rgb, texels, em_i, em_f, dist, scene_i, cam),
            accum, weight, y, x, integrator, seed, spp, sample_offset, int_a, int_b, hide_emitters,
            rfilter, filter_radius, filter_stddev,
        )
