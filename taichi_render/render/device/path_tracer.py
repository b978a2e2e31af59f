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
  in the path depth: nothing is stored per vertex. (The packet driver replays paths of at most
  a few vertices in one pass, keeping each vertex's lobe term until L is known:
  deferred_terms.py.)
- forward: the same replay, contracting derivatives with tangent arrays: returns dL.
"""

import taichi as ti

from .. import layout as L
from . import rng
from .bsdf import has_smooth_lobe, resolve, sample, slot_textures
from .derivatives import (
    MAX_TERMS,
    MODE_ADJOINT,
    MODE_PRIMAL,
    flush_terms,
    lobe_dlog,
    unit_correction,
)
from .emitters import is_point_light, no_emitter_sample, sample_emitter
from .frame import frame_from_normal
from .intersect import INF, interaction_at, occluded, shadow_ray_to, spawn_origin, trace
from .path_common import emission_lookup, emitter_pdf, evaluate_both
from .shape_derivatives import (
    analytic_normal_gradient,
    emitter_geometry,
    nee_geometry,
    receiver_scatter,
    receiver_tangent,
    triangle_scatter,
    triangle_tangent,
)
from .textures import eval_texture
from .warp import power_heuristic, roulette_probability

vec2 = ti.math.vec2
vec3 = ti.math.vec3


PathState = ti.types.struct(
    o=vec3, d=vec3, tmax=ti.f32,  # the ray to trace next
    throughput=vec3,
    gathered=vec3,  # radiance gathered so far
    eta=ti.f32,
    prev_p=vec3, prev_pdf=ti.f32, prev_delta=ti.i32,  # the previous vertex, for MIS
    # derivative modes: the previous vertex's shading normal (oriented as its BSDF saw it: the
    # shading normal times prev_flip), triangle (-1: it carries no vertex-position terms),
    # barycentrics and incoming ray, for the derivative of the MIS weight of emission its BSDF
    # sample finds
    prev_n=vec3, prev_flip=ti.f32, prev_tri=ti.i32, prev_b=vec2, prev_ray=vec3,
    alive=ti.i32,
    d_total=vec3,  # forward mode: the derivative gathered so far
    # derivative modes: the lobe this vertex sampled, its texture slots (-1: none), the uv of
    # their lookup and d log f / d slot (for single-pass replay, deferred_terms.py)
    lobe_tex=ti.types.vector(2, ti.i32), lobe_uv=vec2, lobe_a0=vec3, lobe_a1=vec3,
)


@ti.func
def path_start(o: vec3, d: vec3, tmax: ti.f32, max_depth: ti.i32) -> PathState:
    """State of a path leaving the camera along (o, d)."""
    return PathState(o=o, d=d, tmax=tmax, throughput=vec3(1.0), gathered=vec3(0.0), eta=1.0, prev_p=o,
                     prev_pdf=1.0, prev_delta=1, prev_n=vec3(0.0), prev_flip=1.0, prev_tri=-1, prev_b=vec2(0.0),
                     prev_ray=vec3(0.0), alive=ti.i32(max_depth != 0), d_total=vec3(0.0),
                     lobe_tex=ti.Vector([-1, -1]), lobe_uv=vec2(0.0), lobe_a0=vec3(0.0), lobe_a1=vec3(0.0))


@ti.func
def vertex_setup(sc: ti.template(), key: ti.u32, depth: ti.i32, st: ti.template(), hit: ti.template(),
                 max_depth: ti.i32):
    """The interaction the path's ray found, and whether the path scatters there: then also
    the leaf BSDF, its side flag and the emitter sample of this vertex. Returns
    (si, scatters, leaf BSDF, flip, emitter sample)."""
    si = interaction_at(sc, hit, st.o, st.d)
    scatters = si.valid and not (max_depth > 0 and depth + 1 >= max_depth)
    b = 0
    flip = 1.0
    es = no_emitter_sample()
    if scatters:
        b, flip = resolve(sc, sc.shape_i[si.shape, L.SI_BSDF], si.sh_n.dot(-st.d))
        es = sample_emitter(
            sc, si.p,
            rng.rand(key, rng.bounce_dim(depth, rng.OFS_EMITTER_SELECT)),
            rng.rand2(key, rng.bounce_dim(depth, rng.OFS_EMITTER_2D)),
        )
    return si, scatters, b, flip, es


@ti.func
def shadow_ray(sc: ti.template(), si: ti.template(), scatters: ti.i32, b: ti.i32, flip: ti.f32,
               es: ti.template()):
    """The shadow ray of a vertex's emitter sample: (needed, origin, direction, tmax). Not
    needed where the sample cannot contribute (no smooth lobe, zero weight, or behind the
    shading normal: every smooth lobe reflects only)."""
    needed = (scatters and has_smooth_lobe(sc, b) and es.pdf > 0.0 and es.weight.max() > 0.0
              and (si.sh_n * flip).dot(es.d) > 0.0)
    origin, d, tmax = shadow_ray_to(si.p, si.n, es.d, es.dist)
    return needed, origin, d, tmax


@ti.func
def put_term(t_tex: ti.template(), t_uv: ti.template(), t_g: ti.template(), k: ti.i32, tex: ti.i32, uv: vec2,
             g: vec3):
    """Row k of a vertex's derivative terms: texture, uv of the lookup, d(contribution)/d(value)."""
    t_tex[k] = tex
    t_uv[k, 0], t_uv[k, 1] = uv.x, uv.y
    t_g[k, 0], t_g[k, 1], t_g[k, 2] = g.x, g.y, g.z


@ti.func
def path_vertex(sc: ti.template(), ad: ti.template(), key: ti.u32, depth: ti.i32, st: ti.template(),
                si: ti.template(), scatters: ti.i32, b: ti.i32, flip: ti.f32, es: ti.template(),
                visible: ti.i32, max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32, delta: vec3,
                total: vec3, replay: ti.i32, single_pass: ti.i32, mode: ti.template()) -> PathState:
    """One path vertex: emission found by the ray, emitter sampling (`visible`: its shadow ray's
    outcome), BSDF sampling and Russian roulette. Returns the updated state.

    In the derivative modes the replay pass (`replay`, with `total` the primal estimate of the
    first pass) also applies the vertex's derivative terms. With `single_pass` (and `total` 0)
    the lobe term's part in `total` is left to the caller (`st.lobe_*`, deferred_terms.py) and
    vertex-position and point-light position terms are skipped (single-pass replay is used
    without them)."""
    if ti.static(mode != MODE_PRIMAL):
        st.lobe_tex = ti.Vector([-1, -1])
    t_tex = ti.Vector([-1] * MAX_TERMS, ti.i32)
    t_uv = ti.Matrix.zero(ti.f32, MAX_TERMS, 2)
    t_g = ti.Matrix.zero(ti.f32, MAX_TERMS, 3)
    ray_d = st.d
    n_terms = _emission_term(sc, ad, st, si, depth, hide_emitters, replay, delta, t_tex, t_uv, t_g, mode)
    if not scatters:
        st.alive = False
    else:
        frame = frame_from_normal(si.sh_n * flip)
        wi = frame @ (-ray_d)
        tex0, tex1 = slot_textures(sc, b, si.uv)
        # vertex-position derivatives: diffuse surfaces of triangle meshes (two-pass replay); a point
        # light's position: diffuse surfaces of every shape
        light_terms = replay and not single_pass and sc.bsdf_i[b, L.BI_TYPE] == L.BSDF_DIFFUSE
        shape_terms = light_terms and si.tri >= 0
        # ---- emitter sampling and BSDF sampling ----
        bs = sample(
            sc, b, tex0, tex1, wi,
            rng.rand(key, rng.bounce_dim(depth, rng.OFS_BSDF_1D)),
            rng.rand2(key, rng.bounce_dim(depth, rng.OFS_BSDF_2D)),
        )
        em_active = has_smooth_lobe(sc, b) and es.pdf > 0.0 and es.weight.max() > 0.0
        em_value, em_bsdf_pdf, units = evaluate_both(
            sc, b, tex0, tex1, wi, frame @ es.d, em_active, bs, mode != MODE_PRIMAL
        )
        if em_value.max() > 0.0 and visible:
            n_terms = _emitter_sample_term(sc, ad, st, si, b, flip, es, em_value, em_bsdf_pdf, units, tex0,
                                           shape_terms, light_terms, ray_d, delta, t_tex, t_uv, t_g, n_terms, mode)
        if not bs.valid:
            st.alive = False
        else:
            if ti.static(mode != MODE_PRIMAL):
                n_terms = _lobe_terms(sc, ad, st, si, b, flip, frame, wi, bs, tex0, tex1, units, total,
                                      shape_terms, ray_d, delta, t_tex, t_uv, t_g, n_terms, mode)
            if ti.static(mode != MODE_PRIMAL):
                st.prev_tri = si.tri if shape_terms and not bs.delta else -1
                st.prev_n, st.prev_flip, st.prev_b, st.prev_ray = si.sh_n * flip, flip, si.b, ray_d
            _continue_path(key, depth, st, si, frame, bs, rr_depth)
    if ti.static(mode != MODE_PRIMAL):
        if replay and n_terms > 0:
            st.d_total += flush_terms(sc, ad, n_terms, t_tex, t_uv, t_g, delta, mode)
    return st


@ti.func
def _emission_term(sc: ti.template(), ad: ti.template(), st: ti.template(), si: ti.template(), depth: ti.i32,
                   hide_emitters: ti.i32, replay: ti.i32, delta: vec3, t_tex: ti.template(), t_uv: ti.template(),
                   t_g: ti.template(), mode: ti.template()) -> ti.i32:
    """Emission found by the BSDF-sampled (or camera) ray, MIS-weighted against emitter sampling
    from the previous vertex, added to `st.gathered`; its derivative term goes to row 0 of the
    vertex's terms, and on replay the vertex-position derivative of its MIS weight
    (`_emission_weight_derivative`) where the previous vertex carries those terms. Returns the
    number of terms (0 or 1)."""
    n_terms = 0
    if depth > 0 or not hide_emitters:
        tex, uv, scale = emission_lookup(sc, si, st.d)
        if tex >= 0:
            w = 1.0
            if not st.prev_delta:
                w = power_heuristic(st.prev_pdf, emitter_pdf(sc, si, st.prev_p, st.d))
            radiance = eval_texture(sc, tex, uv) * scale
            st.gathered += st.throughput * radiance * w
            if ti.static(mode != MODE_PRIMAL):
                put_term(t_tex, t_uv, t_g, 0, tex, uv, st.throughput * (scale * w))
                n_terms = 1
                if replay and st.prev_tri >= 0 and not st.prev_delta:
                    _emission_weight_derivative(sc, ad, st, si, st.throughput * radiance * w, w, delta, mode)
    return n_terms


@ti.func
def _emission_weight_derivative(sc: ti.template(), ad: ti.template(), st: ti.template(), si: ti.template(),
                                contrib: vec3, w: ti.f32, delta: vec3, mode: ti.template()):
    """Vertex-position derivative of the MIS weight w = pb² / (pb² + pe²) of emission `contrib`
    that a diffuse vertex x's BSDF sample found (x: st.prev_*; the sampled direction st.d is
    detached). pb / pe = G / (π · emitter selection), G = cos_x cos_y A / r² for an area emitter
    (hit at y), cos_x for the environment, so d log w = 2 (1 - w) d log G: x moves along its
    ray and turns with its normal, y moves along the ray from x with its surface
    (y' = x' + ω n_y · (P' - x') / (n_y · ω), P' the triangle's point; 0 on a sphere or disk,
    which do not move), a triangle's normal and area change with its vertices, a sphere's normal
    turns with y. Adjoint mode scatters it, forward mode adds it to `st.d_total`."""
    x = st.prev_p
    omega = st.d
    area_hit = si.valid
    mesh_hit = si.tri >= 0
    g, gx, gn, gy, gnl, ga = 0.0, vec3(0.0), vec3(0.0), vec3(0.0), vec3(0.0), 0.0
    side = 1.0 if si.n.dot(omega) < 0.0 else -1.0  # the emitter's normal, turned to x
    em_row = 0
    if area_hit:
        emitter = sc.shape_i[si.shape, L.SI_EMITTER]
        em_row = emitter * L.ED_WIDTH + L.ED_AREA
        g, gx, gn, gy, gnl, ga = nee_geometry(x, st.prev_n, si.p, si.n * side, sc.em_f[emitter, L.EF_AREA])
        if not mesh_hit:  # a sphere's normal turns as y slides over it
            gy += analytic_normal_gradient(sc, si.shape, si.p, si.n, side, gnl)
    else:
        g = st.prev_n.dot(omega)
        gn = omega
    gn *= st.prev_flip  # with respect to x's shading normal
    n_w = si.n.dot(omega)
    if g > 0.0 and (not area_hit or n_w != 0.0):
        k = 2.0 * (1.0 - w) / g
        if ti.static(mode == MODE_ADJOINT):
            c = delta.dot(contrib) * k
            gx_total = gx
            if area_hit:  # y follows x along the ray
                gx_total = gx + gy - si.n * (gy.dot(omega) / n_w)
                if mesh_hit:
                    triangle_scatter(sc, ad, si.tri, si.b, omega, 1, gy * c, gnl * (side * c))
                    ti.atomic_add(ad.grad_em[em_row], ga * c)
            receiver_scatter(sc, ad, st.prev_tri, st.prev_b, st.prev_ray, gx_total * c, gn * c, True)
        else:
            dx, dn = receiver_tangent(sc, ad, st.prev_tri, st.prev_b, st.prev_ray)
            s_dot = gx.dot(dx) + gn.dot(dn)
            if area_hit:
                dp, dnl = vec3(0.0), vec3(0.0)  # a sphere or disk stands still
                if mesh_hit:
                    dp, dnl = triangle_tangent(sc, ad, si.tri, si.b, omega, 0)
                    s_dot += side * gnl.dot(dnl) + ga * ad.tan_em[em_row]
                s_dot += gy.dot(dx + omega * (si.n.dot(dp - dx) / n_w))  # y follows x along the ray
            st.d_total += contrib * (s_dot * k)


@ti.func
def _emitter_sample_term(sc: ti.template(), ad: ti.template(), st: ti.template(), si: ti.template(), b: ti.i32,
                         flip: ti.f32, es: ti.template(), em_value: vec3, em_bsdf_pdf: ti.f32, units: ti.template(),
                         tex0: vec3, shape_terms: ti.i32, light_terms: ti.i32, ray_d: vec3, delta: vec3,
                         t_tex: ti.template(), t_uv: ti.template(), t_g: ti.template(), n_terms: ti.i32,
                         mode: ti.template()) -> ti.i32:
    """The visible emitter sample's contribution (`em_value`: f * cos towards it), MIS-weighted
    against BSDF sampling, added to `st.gathered`. Derivative modes: its terms (the radiance at
    the sampled point, the BSDF's two slots) from row `n_terms` on, with `shape_terms` its
    geometry term's vertex-position derivatives, and with `light_terms` (or `shape_terms`) its
    derivative in a point light's position. Returns the number of terms."""
    n = n_terms
    mis = 1.0 if es.delta else power_heuristic(es.pdf, em_bsdf_pdf)
    contrib = st.throughput * em_value * es.weight * mis
    st.gathered += contrib
    if ti.static(mode != MODE_PRIMAL):
        g_em = st.throughput * em_value * (mis * es.factor)
        em_unit0 = vec3(units[0, 0], units[0, 1], units[0, 2])
        em_unit1 = vec3(units[1, 0], units[1, 1], units[1, 2])
        g0 = st.throughput * em_unit0 * unit_correction(sc, b, tex0) * es.weight * mis
        g1 = st.throughput * em_unit1 * es.weight * mis
        put_term(t_tex, t_uv, t_g, n, es.tex, es.uv, g_em)
        put_term(t_tex, t_uv, t_g, n + 1, sc.bsdf_i[b, L.BI_TEX0], si.uv, g0)
        put_term(t_tex, t_uv, t_g, n + 2, sc.bsdf_i[b, L.BI_TEX1], si.uv, g1)
        n += 3
        if shape_terms or (light_terms and is_point_light(es)):
            _emitter_geometry_derivative(sc, ad, st, si, flip, es, contrib, mis, ray_d, delta, shape_terms, mode)
    return n


@ti.func
def _emitter_geometry_derivative(sc: ti.template(), ad: ti.template(), st: ti.template(), si: ti.template(),
                                 flip: ti.f32, es: ti.template(), contrib: vec3, mis: ti.f32, ray_d: vec3,
                                 delta: vec3, shape_terms: ti.i32, mode: ti.template()):
    """Derivative of the emitter sample's geometry term: with `shape_terms` (the receiver is on
    a triangle mesh) in vertex positions, through the receiver (its position and face or vertex
    normals) and through the emitter's triangle and area when it is one; and in a point light's
    position (G depends on p - x: d G / d p = -d G / d x, at any receiver). Adjoint mode scatters
    it, forward mode adds it to `st.d_total`."""
    g, gx, gn, gy, gnl, ga = emitter_geometry(sc, es, si.p, si.sh_n * flip)
    if g > 0.0:
        gn = gn * flip  # with respect to si.sh_n
        # the MIS weight w = pe² / (pe² + pb²): pb / pe = G / (π · selection) for area emitters
        # (sampled uniformly by area) and the environment, so d log (G w) = (2 w - 1) d log G
        # (point lights: no MIS)
        k = 1.0
        if not es.delta:
            k = 2.0 * mis - 1.0
        if ti.static(mode == MODE_ADJOINT):
            wgt = delta.dot(contrib) * k / g
            if shape_terms:
                receiver_scatter(sc, ad, si.tri, si.b, ray_d, gx * wgt, gn * wgt, True)
            row = es.emitter * L.ED_WIDTH
            if es.tri >= 0 and shape_terms:
                triangle_scatter(sc, ad, es.tri, es.b, ray_d, 0, gy * wgt, gnl * wgt)
                ti.atomic_add(ad.grad_em[row + L.ED_AREA], ga * wgt)
            elif is_point_light(es):
                for c in ti.static(range(3)):
                    ti.atomic_add(ad.grad_em[row + L.ED_POSITION + c], -gx[c] * wgt)
        else:
            s_dot = 0.0
            if shape_terms:
                dx, dn = receiver_tangent(sc, ad, si.tri, si.b, ray_d)
                s_dot = gx.dot(dx) + gn.dot(dn)
            row = es.emitter * L.ED_WIDTH
            if es.tri >= 0 and shape_terms:
                dy, dnl = triangle_tangent(sc, ad, es.tri, es.b, ray_d, 0)
                s_dot += gy.dot(dy) + gnl.dot(dnl) + ga * ad.tan_em[row + L.ED_AREA]
            elif is_point_light(es):
                dp = vec3(ad.tan_em[row + L.ED_POSITION], ad.tan_em[row + L.ED_POSITION + 1],
                          ad.tan_em[row + L.ED_POSITION + 2])
                s_dot -= gx.dot(dp)
            st.d_total += contrib * (s_dot * k / g)


@ti.func
def _lobe_terms(sc: ti.template(), ad: ti.template(), st: ti.template(), si: ti.template(), b: ti.i32, flip: ti.f32,
                frame: ti.template(), wi: vec3, bs: ti.template(), tex0: vec3, tex1: vec3, units: ti.template(),
                total: vec3, shape_terms: ti.i32, ray_d: vec3, delta: vec3, t_tex: ti.template(),
                t_uv: ti.template(), t_g: ti.template(), n_terms: ti.i32, mode: ti.template()) -> ti.i32:
    """Derivative terms of the sampled lobe, through which everything still to come passes
    (`total` - gathered so far): the BSDF's two slots from row `n_terms` on, kept in `st.lobe_*`
    for single-pass replay, and with `shape_terms` the sampled direction's cosine through the
    normal. Returns the number of terms."""
    future = total - st.gathered
    a0, a1 = lobe_dlog(sc, b, tex0, tex1, bs.delta, ti.i32(bs.wo.z * wi.z > 0.0), bs.weight * bs.pdf, units)
    slots = ti.Vector([sc.bsdf_i[b, L.BI_TEX0], sc.bsdf_i[b, L.BI_TEX1]])
    put_term(t_tex, t_uv, t_g, n_terms, slots[0], si.uv, future * a0)
    put_term(t_tex, t_uv, t_g, n_terms + 1, slots[1], si.uv, future * a1)
    st.lobe_tex, st.lobe_uv, st.lobe_a0, st.lobe_a1 = slots, si.uv, a0, a1
    if shape_terms and not bs.delta and bs.wo.z > 0.0:
        gn = (frame.transpose() @ bs.wo) * (flip / bs.wo.z)
        if ti.static(mode == MODE_ADJOINT):
            receiver_scatter(sc, ad, si.tri, si.b, ray_d, vec3(0.0), gn * delta.dot(future), False)
        else:
            _, dn = receiver_tangent(sc, ad, si.tri, si.b, ray_d)
            st.d_total += future * gn.dot(dn)
    return n_terms + 2


@ti.func
def _continue_path(key: ti.u32, depth: ti.i32, st: ti.template(), si: ti.template(), frame: ti.template(),
                   bs: ti.template(), rr_depth: ti.i32):
    """The next ray along the sampled direction, the throughput times the sample's weight, and
    Russian roulette (from depth + 1 = rr_depth on: the number of vertices scattered so far)."""
    new_d = (frame.transpose() @ bs.wo).normalized()
    st.throughput *= bs.weight
    st.eta *= bs.eta
    st.prev_p = si.p
    st.prev_pdf = bs.pdf
    st.prev_delta = bs.delta
    st.o = spawn_origin(si.p, si.n, new_d)
    st.d = new_d
    st.tmax = INF
    tp_max = st.throughput.max()
    if depth + 1 >= rr_depth:
        rr_prob = roulette_probability(tp_max, st.eta)
        if rng.rand(key, rng.bounce_dim(depth, rng.OFS_RR)) >= rr_prob:
            st.alive = False
        else:
            st.throughput /= rr_prob
    if tp_max <= 0.0:
        st.alive = False


@ti.func
def traced_vertex(sc: ti.template(), ad: ti.template(), key: ti.u32, depth: ti.i32, st: ti.template(),
                  hit: ti.template(), max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32, delta: vec3,
                  total: vec3, replay: ti.i32, single_pass: ti.i32, mode: ti.template()) -> PathState:
    """The vertex where the path's ray found `hit`, its shadow ray traced on its own:
    `vertex_setup`, `shadow_ray`, then `path_vertex`. Serves the one-ray driver and the lanes
    of a packet that leave the SIMD fast path (packet_lane.py)."""
    si, scatters, b, flip, es = vertex_setup(sc, key, depth, st, hit, max_depth)
    needed, so, sd, stmax = shadow_ray(sc, si, scatters, b, flip, es)
    visible = 0
    if needed:
        visible = 1 - occluded(sc, so, sd, stmax)
    return path_vertex(sc, ad, key, depth, st, si, scatters, b, flip, es, visible, max_depth, rr_depth,
                       hide_emitters, delta, total, replay, single_pass, mode)


@ti.func
def path_sample(sc: ti.template(), ad: ti.template(), key: ti.u32, o: vec3, d: vec3, tmax: ti.f32,
                max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32, delta: vec3, mode: ti.template()):
    """Radiance along one camera ray (Mitsuba's `path`; max_depth -1: unbounded), one ray at a
    time (the packet kernels run the same vertices on 16 paths at once).

    Returns (L, dL): dL is the forward-mode derivative (forward mode), else 0. In adjoint mode
    `delta` is dLoss/dL of this sample."""
    total = vec3(0.0)
    d_total = vec3(0.0)
    passes = 1 if ti.static(mode == MODE_PRIMAL) else 2
    for pass_index in range(passes):
        replay = pass_index == 1
        st = path_start(o, d, tmax, max_depth)
        depth = 0
        while st.alive:
            hit = trace(sc, st.o, st.d, st.tmax, False)
            st = traced_vertex(sc, ad, key, depth, st, hit, max_depth, rr_depth, hide_emitters, delta, total,
                               replay, 0, mode)
            depth += 1
        if not replay:
            total = st.gathered
        d_total = st.d_total
    return total, d_total
