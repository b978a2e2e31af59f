"""SIMD fast path of a packet vertex where every live lane sits on a diffuse triangle.

The per-lane code of path_tracer.py handles any material, one lane at a time. Most vertices of
inverse-rendering scenes are diffuse triangles, and for those the whole vertex (emission and
its MIS weight, the shading frame, the emitter sample's evaluation and MIS, cosine-weighted
BSDF sampling, Russian roulette, the next ray) is computed on all lanes at once. Only the
lookups stay per lane: triangle data, texture values (any texture) and the emitter sample
(any emitter). The estimator, including its random-number dimensions, is the per-lane one,
so both give the same images.

A vertex where no lane scatters (the last vertex of every path, at depth max_depth - 1) stops
after the emission its rays found.

A vertex qualifies when every live lane either misses the scene or hits a triangle whose BSDF
is `diffuse` (or `twosided` of diffuse); lanes that escape to an environment emitter run the
per-lane code (packet_lane.py) for their last vertex. In derivative modes, vertex-position
terms (`shape_grads`) send the packet to the per-lane code. Otherwise `diffuse_vertex` returns
0 and changes nothing.
"""

import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.deferred_terms import keep
from ..device.derivatives import MODE_ADJOINT, MODE_PRIMAL, flush_terms, gradient_wanted
from ..device.emitters import area_solid_angle_pdf, sample_emitter
from ..device.frame import tangents
from ..device.intersect import INF, spawn, spawn_to
from ..device.textures import eval_texture
from ..device.warp import (
    cosine_hemisphere,
    cosine_hemisphere_pdf,
    power_heuristic,
    roulette_probability,
)
from ..view import EMITTERS
from . import packet_state as P
from .packet_emitters import sample_triangle_emitters
from .packet_gradients import add_rgb_gradient
from .packet_lane import lane_vertex
from .packet_random import rand_lanes
from .packet_trace import (
    LANES,
    VF,
    VI,
    any_lane,
    lane_max,
    lane_max_int,
    new_triangle_lanes,
    trace_packet,
    triangle_rows,
    unit_normal,
)

vec2 = ti.math.vec2
vec3 = ti.math.vec3


@ti.func
def _max3(x: ti.template(), y: ti.template(), z: ti.template()) -> VF:
    return lane_max(lane_max(x, y), z)


@ti.func
def _reciprocal(a: ti.template()) -> VF:
    """1 / a per lane, 0 where a is 0."""
    return ti.select(a != 0.0, 1.0 / ti.select(a != 0.0, a, 1.0), 0.0)


@ti.func
def diffuse_vertex(sc: ti.template(), ad: ti.template(), S: ti.template(), G: ti.template(), keys: ti.template(),
                   t: VF, prim: VI, hb1: VF, hb2: VF, depth: ti.i32, max_depth: ti.i32, rr_depth: ti.i32,
                   hide_emitters: ti.i32, replay: ti.i32, single_pass: ti.i32, shape_grads: ti.i32,
                   mode: ti.template()) -> ti.i32:
    """One vertex of every live lane on the SIMD fast path; returns 0 (and changes nothing)
    when a live lane does not qualify."""
    alive = P.row(S, P.ALIVE) > 0.5
    simple = 1
    if ti.static(mode != MODE_PRIMAL):
        if shape_grads:
            simple = 0
    # ---- per lane: what the ray hit ----
    # the primitives the packet hit, one at a time (a packet's rays mostly hit few of them): each
    # one's lookups once, handed to the lanes that hit it by selects
    hit = VI(0)
    env_miss = ti.select(alive & (prim < 0) & (sc.scene_i[L.SC_ENV_EMITTER] >= 0), 1, 0)
    p0x, p0y, p0z, e1x, e1y, e1z, e2x, e2y, e2z = (VF(0.0), VF(0.0), VF(0.0), VF(0.0), VF(0.0), VF(0.0), VF(0.0),
                                                   VF(0.0), VF(0.0))
    flip_n = VF(1.0)
    emitter = VI(-1)
    front_bsdf = VI(0)
    back_bsdf = VI(0)
    twosided = VI(0)
    nsx, nsy, nsz = VF(0.0), VF(0.0), VF(0.0)  # interpolated vertex normal (0: none)
    b0 = 1.0 - hb1 - hb2
    u = hb1
    v = hb2
    todo = alive & (prim >= 0)
    p = lane_max_int(ti.select(todo, prim, -1))  # the next primitive; -1: none left
    while simple and p >= 0:
        on = todo & (prim == p)
        todo = todo & (prim != p)
        ref = sc.prim[p]
        if ref.x != L.PRIM_TRIANGLE:
            simple = 0
        else:
            tri = ref.y
            vi = sc.tri_v[tri]
            s = vi.w
            front = sc.shape_i[s, L.SI_DIFFUSE_FRONT]  # -1 unless the BSDF's sides are diffuse
            if front < 0:
                simple = 0
            else:
                hit = ti.select(on, 1, hit)
                front_bsdf = ti.select(on, front, front_bsdf)
                back_bsdf = ti.select(on, sc.shape_i[s, L.SI_DIFFUSE_BACK], back_bsdf)
                twosided = ti.select(on, sc.shape_i[s, L.SI_TWOSIDED], twosided)
                c0 = sc.tri_p[tri, 0]
                c1 = sc.tri_p[tri, 1]
                c2 = sc.tri_p[tri, 2]
                p0x, p0y, p0z = ti.select(on, c0.x, p0x), ti.select(on, c0.y, p0y), ti.select(on, c0.z, p0z)
                e1x, e1y, e1z = ti.select(on, c1.x, e1x), ti.select(on, c1.y, e1y), ti.select(on, c1.z, e1z)
                e2x, e2y, e2z = ti.select(on, c2.x, e2x), ti.select(on, c2.y, e2y), ti.select(on, c2.z, e2z)
                flip_n = ti.select(on, -1.0 if sc.shape_i[s, L.SI_FLIP_NORMALS] else 1.0, flip_n)
                emitter = ti.select(on, sc.shape_i[s, L.SI_EMITTER], emitter)
                if sc.shape_i[s, L.SI_HAS_NORMALS] == L.NORMALS_VERTEX:  # flat ones: the face normal
                    n0 = sc.vtx_n[vi.x]
                    n1 = sc.vtx_n[vi.y]
                    n2 = sc.vtx_n[vi.z]
                    nsx = ti.select(on, b0 * n0.x + hb1 * n1.x + hb2 * n2.x, nsx)
                    nsy = ti.select(on, b0 * n0.y + hb1 * n1.y + hb2 * n2.y, nsy)
                    nsz = ti.select(on, b0 * n0.z + hb1 * n1.z + hb2 * n2.z, nsz)
                if sc.shape_i[s, L.SI_HAS_UV]:
                    t0 = sc.vtx_uv[vi.x]
                    t1 = sc.vtx_uv[vi.y]
                    t2 = sc.vtx_uv[vi.z]
                    u = ti.select(on, b0 * t0.x + hb1 * t1.x + hb2 * t2.x, u)
                    v = ti.select(on, b0 * t0.y + hb1 * t1.y + hb2 * t2.y, v)
        p = lane_max_int(ti.select(todo, prim, -1))
    T = new_triangle_lanes()
    T[0, :], T[1, :], T[2, :] = p0x, p0y, p0z
    T[3, :], T[4, :], T[5, :] = e1x, e1y, e1z
    T[6, :], T[7, :], T[8, :] = e2x, e2y, e2z
    if simple:
        # rays that escaped to the environment emitter end here, with the per-lane code (its
        # emission and MIS weight); the SIMD vertex then reads their updated rows and leaves
        # them alone (they hit nothing, so nothing scatters and no term is added)
        if ti.static(sc.features & EMITTERS):
            if any_lane(env_miss != 0):
                for l in range(LANES):
                    if env_miss[l]:
                        lane_vertex(sc, ad, S, keys[l], l, t[l], prim[l], hb1[l], hb2[l], depth, max_depth,
                                    rr_depth, hide_emitters, replay, single_pass, mode)
        hit_mask = hit != 0
        _diffuse_vertex_simd(sc, ad, S, G, keys, alive, hit_mask, T, nsx, nsy, nsz, flip_n, emitter, front_bsdf,
                             back_bsdf, twosided, u, v, hb1, hb2, depth, max_depth, rr_depth, hide_emitters, replay,
                             single_pass, mode)
    return simple


@ti.func
def _wanted_lanes(sc: ti.template(), tex: ti.template()):
    """Lanes whose texture row `tex` (-1: none) has its gradient wanted (adjoint launches)."""
    return (tex >= 0) & gradient_wanted(sc, ti.select(tex >= 0, tex, 0))


@ti.func
def _lobe_wanted(sc: ti.template(), tex: ti.i32, mode: ti.template()) -> ti.i32:
    """Whether a lobe term of texture row `tex` is kept: always in forward mode (tangents decide
    there), in adjoint mode when the texture's gradient is wanted."""
    ok = 1
    if ti.static(mode == MODE_ADJOINT):
        ok = gradient_wanted(sc, tex)
    return ok


@ti.func
def _diffuse_vertex_simd(sc: ti.template(), ad: ti.template(), S: ti.template(), G: ti.template(),
                         keys: ti.template(), alive: ti.template(), hit: ti.template(), T: ti.template(), nsx: VF,
                         nsy: VF, nsz: VF, flip_n: VF, emitter: VI, front_bsdf: VI, back_bsdf: VI, twosided: VI,
                         u: VF, v: VF, hb1: VF, hb2: VF, depth: ti.i32, max_depth: ti.i32, rr_depth: ti.i32,
                         hide_emitters: ti.i32, replay: ti.i32, single_pass: ti.i32, mode: ti.template()):
    dx, dy, dz = P.row3(S, P.D)
    tpx, tpy, tpz = P.row3(S, P.TP)
    gx, gy, gz = P.row3(S, P.GATHERED)
    px, py, pz, nx, ny, nz, hx, hy, hz = _surface_lanes(T, hb1, hb2, nsx, nsy, nsz, flip_n)
    h_dot_d = hx * dx + hy * dy + hz * dz
    # derivative terms of this vertex (per lane): emission, emitter radiance, reflectance (x2)
    term_tex = ti.Matrix.zero(ti.i32, 4, LANES) - 1
    term_g = ti.Matrix.zero(ti.f32, 12, LANES)

    # ---- emission found by the ray ----
    if depth > 0 or not hide_emitters:
        ex, ey, ez = _emission_lanes(sc, S, term_tex, term_g, alive, hit, emitter, u, v, px, py, pz, nx, ny, nz,
                                     h_dot_d, tpx, tpy, tpz, depth, mode)
        gx += ex
        gy += ey
        gz += ez

    scatters = alive & hit
    if max_depth > 0 and depth + 1 >= max_depth:
        scatters = alive & (hit & 0 != 0)
    # what the write-back and the derivative terms read; a vertex where no lane scatters (the
    # last vertex of every path: max_depth - 1) only gathers emission
    ox, oy, oz = px, py, pz
    ndx, ndy, ndz = dx, dy, dz
    pdf = VF(0.0)
    survive = VI(0)
    contribute = VI(0)
    valid = VI(0)
    e_u, e_v = VF(0.0), VF(0.0)
    iax, iay, iaz = VF(0.0), VF(0.0), VF(0.0)
    if any_lane(scatters):
        # side of the surface, shading frame (Duff et al.), incident direction
        back = (h_dot_d > 0.0) & (twosided != 0)  # twosided, seen from behind: cos(theta_i) < 0
        leaf = ti.select(back, back_bsdf, front_bsdf)
        side = ti.select(back, -1.0, 1.0)
        sx, sy, sz = hx * side, hy * side, hz * side
        ux, uy, uz, wx, wy, wz = tangents(sx, sy, sz)
        wi_z = -(sx * dx + sy * dy + sz * dz)
        # ---- per lane: reflectance and emitter sample (written into these lane vectors) ----
        ax, ay, az = VF(0.0), VF(0.0), VF(0.0)
        albedo_tex = VI(-1)
        edx, edy, edz = VF(0.0), VF(0.0), VF(1.0)
        e_dist = VF(INF)
        e_pdf = VF(0.0)
        ewx, ewy, ewz = VF(0.0), VF(0.0), VF(0.0)
        e_delta = VI(0)
        e_factor = VF(0.0)
        _reflectances(sc, scatters, leaf, u, v, ax, ay, az, albedo_tex)
        term_tex[2, :] = albedo_tex
        term_tex[3, :] = albedo_tex
        _emitter_samples(sc, keys, depth, scatters, px, py, pz, edx, edy, edz, e_dist, e_pdf, ewx, ewy, ewz, e_delta,
                         e_factor, e_u, e_v, term_tex)
        # ---- emitter sampling: shadow rays, then evaluation and MIS ----
        cx, cy, cz, contribute = _emitter_contribution(
            sc, term_g, scatters, wi_z, sx, sy, sz, px, py, pz, nx, ny, nz, edx, edy, edz, e_dist, e_pdf, ewx, ewy,
            ewz, e_delta, e_factor, ax, ay, az, tpx, tpy, tpz, mode)
        gx += cx
        gy += cy
        gz += cz
        # ---- BSDF sampling: cosine-weighted hemisphere ----
        valid, pdf, ndx, ndy, ndz, ox, oy, oz = _cosine_sample_lanes(keys, depth, scatters, wi_z, ux, uy, uz, wx, wy,
                                                                     wz, sx, sy, sz, px, py, pz, nx, ny, nz)
        iax, iay, iaz = _reciprocal(ax), _reciprocal(ay), _reciprocal(az)  # d log f / d reflectance
        if ti.static(mode != MODE_PRIMAL):
            # everything still to come passes through this vertex's diffuse lobe (single pass:
            # TOTAL is 0 here, its part is kept for the path's end)
            fx = ti.select(valid, P.row(S, P.TOTAL) - gx, 0.0)
            fy = ti.select(valid, P.row(S, P.TOTAL + 1) - gy, 0.0)
            fz = ti.select(valid, P.row(S, P.TOTAL + 2) - gz, 0.0)
            P.set_row(term_g, 9, fx * iax)
            P.set_row(term_g, 10, fy * iay)
            P.set_row(term_g, 11, fz * iaz)
        # weight = f * cos / pdf = reflectance
        tpx = ti.select(valid, tpx * ax, tpx)
        tpy = ti.select(valid, tpy * ay, tpy)
        tpz = ti.select(valid, tpz * az, tpz)
        tpx, tpy, tpz, survive = _roulette_lanes(S, keys, depth, rr_depth, valid, tpx, tpy, tpz)
    # ---- write back ----
    # (the ray and previous-vertex rows of lanes that stop here are never read again)
    P.set_row3(S, P.GATHERED, gx, gy, gz)
    P.set_row3(S, P.TP, tpx, tpy, tpz)
    _write_next_ray(S, ox, oy, oz, ndx, ndy, ndz, px, py, pz, pdf, survive)
    # ---- derivative terms (replay pass) ----
    if ti.static(mode != MODE_PRIMAL):
        P.set_row(S, P.PREV_TRI, VF(0.0))  # this vertex carries no vertex-position terms
        if replay:
            _vertex_terms(sc, ad, S, G, alive, contribute, valid, term_tex, term_g, u, v, e_u, e_v, iax, iay, iaz,
                          depth, single_pass, mode)


@ti.func
def _cosine_sample_lanes(keys: ti.template(), depth: ti.i32, scatters: ti.template(), wi_z: ti.template(),
                         ux: ti.template(), uy: ti.template(), uz: ti.template(), wx: ti.template(), wy: ti.template(),
                         wz: ti.template(), sx: ti.template(), sy: ti.template(), sz: ti.template(), px: ti.template(),
                         py: ti.template(), pz: ti.template(), nx: ti.template(), ny: ti.template(), nz: ti.template()):
    """The diffuse lobe's cosine-weighted sample of every lane (16 lanes, VF / VI): whether it is
    usable (`valid`: the lane scatters, both directions above the shading frame (u, w, s), pdf > 0),
    its solid-angle pdf, and the next ray (unit direction in world space; origin spawned off the
    geometric normal n at p)."""
    wo_x, wo_y, wo_z = cosine_hemisphere(rand_lanes(keys, rng.bounce_dim(depth, rng.OFS_BSDF_2D)),
                                         rand_lanes(keys, rng.bounce_dim(depth, rng.OFS_BSDF_2D + 1)))
    valid = scatters & (wi_z > 0.0) & (wo_z > 0.0)
    pdf = ti.select(valid, cosine_hemisphere_pdf(wo_z), 0.0)
    valid = valid & (pdf > 0.0)
    ndx = ux * wo_x + wx * wo_y + sx * wo_z
    ndy = uy * wo_x + wy * wo_y + sy * wo_z
    ndz = uz * wo_x + wz * wo_y + sz * wo_z
    inv_len = 1.0 / ti.sqrt(ti.select(valid, ndx * ndx + ndy * ndy + ndz * ndz, 1.0))
    ndx, ndy, ndz = ndx * inv_len, ndy * inv_len, ndz * inv_len
    ox, oy, oz = spawn(px, py, pz, nx, ny, nz, ndx, ndy, ndz)
    return valid, pdf, ndx, ndy, ndz, ox, oy, oz


@ti.func
def _write_next_ray(S: ti.template(), ox: ti.template(), oy: ti.template(), oz: ti.template(), dx: ti.template(),
                    dy: ti.template(), dz: ti.template(), px: ti.template(), py: ti.template(), pz: ti.template(),
                    pdf: ti.template(), survive: ti.template()):
    """Packet state rows of the ray leaving this vertex: origin o, direction d, this vertex p as the
    previous one (for the MIS of emission the next ray finds), the BSDF sample's pdf (a diffuse lobe
    is never a delta), and whether the lane goes on (`survive`, VI)."""
    P.set_row3(S, P.O, ox, oy, oz)
    P.set_row3(S, P.D, dx, dy, dz)
    P.set_row3(S, P.PREV_P, px, py, pz)
    P.set_row(S, P.TMAX, VF(INF))
    P.set_row(S, P.PREV_PDF, pdf)
    P.set_row(S, P.PREV_DELTA, VF(0.0))
    P.set_row(S, P.ALIVE, ti.select(survive, 1.0, 0.0))


@ti.func
def _surface_lanes(T: ti.template(), hb1: ti.template(), hb2: ti.template(), nsx: ti.template(), nsy: ti.template(),
                   nsz: ti.template(), flip_n: ti.template()):
    """Every lane's hit point on its triangle (rows of T, barycentrics hb1, hb2), unit geometric
    normal, and shading normal (the interpolated vertex normal (nsx, nsy, nsz) normalized, or
    the geometric normal where that is 0), both times flip_n: (px, py, pz, nx, ny, nz, hx, hy,
    hz) lane vectors."""
    p0x, p0y, p0z, e1x, e1y, e1z, e2x, e2y, e2z = triangle_rows(T)
    px = p0x + hb1 * e1x + hb2 * e2x
    py = p0y + hb1 * e1y + hb2 * e2y
    pz = p0z + hb1 * e1z + hb2 * e2z
    nx, ny, nz = unit_normal(e1x, e1y, e1z, e2x, e2y, e2z, flip_n)
    ns_len2 = nsx * nsx + nsy * nsy + nsz * nsz
    has_ns = ns_len2 > 0.0
    ns_scale = flip_n / ti.sqrt(ti.select(has_ns, ns_len2, 1.0))
    return (px, py, pz, nx, ny, nz, ti.select(has_ns, nsx * ns_scale, nx), ti.select(has_ns, nsy * ns_scale, ny),
            ti.select(has_ns, nsz * ns_scale, nz))


@ti.func
def _emitter_contribution(sc: ti.template(), term_g: ti.template(), scatters: ti.template(),
                          wi_z: ti.template(), sx: ti.template(), sy: ti.template(), sz: ti.template(),
                          px: ti.template(), py: ti.template(), pz: ti.template(), nx: ti.template(),
                          ny: ti.template(), nz: ti.template(), edx: ti.template(), edy: ti.template(),
                          edz: ti.template(), e_dist: ti.template(), e_pdf: ti.template(), ewx: ti.template(),
                          ewy: ti.template(), ewz: ti.template(), e_delta: ti.template(), e_factor: ti.template(),
                          ax: ti.template(), ay: ti.template(), az: ti.template(), tpx: ti.template(),
                          tpy: ti.template(), tpz: ti.template(), mode: ti.template()):
    """The emitter samples' contributions through the diffuse lobes (reflectance a, shading
    normal s) to paths of throughput tp: shadow rays traced as a packet, then the lobe's value
    and MIS against BSDF sampling. Returns what they add to the gathered radiance (x, y, z) and
    the lanes whose sample contributes; their derivative terms go to term rows 1 and 2."""
    wo_e_z = sx * edx + sy * edy + sz * edz
    lit = scatters & (wi_z > 0.0) & (wo_e_z > 0.0) & (e_pdf > 0.0) & (_max3(ewx, ewy, ewz) > 0.0)
    sox, soy, soz, sdx, sdy, sdz, s_tmax = spawn_to(px, py, pz, nx, ny, nz, edx, edy, edz, e_dist)
    _, blocker, _, _ = trace_packet(sc, sox, soy, soz, sdx, sdy, sdz, ti.select(lit, s_tmax, -1.0), True)
    visible = lit & (blocker < 0)
    unit = ti.select(lit, cosine_hemisphere_pdf(wo_e_z), 0.0)  # f * cos per unit reflectance = pdf
    mis = ti.select(e_delta != 0, 1.0, power_heuristic(e_pdf, unit))
    contribute = visible & (_max3(ax, ay, az) * unit > 0.0)
    k = ti.select(contribute, unit * mis, 0.0)
    if ti.static(mode != MODE_PRIMAL):
        ke = k * e_factor
        P.set_row3(term_g, 3, tpx * ax * ke, tpy * ay * ke, tpz * az * ke)
        P.set_row3(term_g, 6, tpx * k * ewx, tpy * k * ewy, tpz * k * ewz)
    return tpx * ax * k * ewx, tpy * ay * k * ewy, tpz * az * k * ewz, contribute


@ti.func
def _emission_lanes(sc: ti.template(), S: ti.template(), term_tex: ti.template(), term_g: ti.template(),
                    alive: ti.template(), hit: ti.template(), emitter: ti.template(), u: ti.template(),
                    v: ti.template(), px: ti.template(), py: ti.template(), pz: ti.template(), nx: ti.template(),
                    ny: ti.template(), nz: ti.template(), h_dot_d: ti.template(), tpx: ti.template(),
                    tpy: ti.template(), tpz: ti.template(), depth: ti.i32, mode: ti.template()):
    """Emission found by every lane's ray (lanes that hit the front of an emitting triangle),
    MIS-weighted against emitter sampling from the previous vertex, on paths of throughput tp:
    returns what it adds to the gathered radiance (x, y, z lane vectors); its derivative term
    goes to term row 0."""
    gx, gy, gz = VF(0.0), VF(0.0), VF(0.0)
    sees = hit & (emitter >= 0) & (h_dot_d < 0.0)
    if any_lane(sees):
        lex, ley, lez = VF(0.0), VF(0.0), VF(0.0)
        area = VF(0.0)
        for l in range(LANES):
            if alive[l] and sees[l]:
                tex = sc.em_i[emitter[l], L.EI_TEX]
                le = eval_texture(sc, tex, vec2(u[l], v[l]))
                lex[l], ley[l], lez[l] = le.x, le.y, le.z
                area[l] = sc.em_f[emitter[l], L.EF_AREA]
                term_tex[0, l] = tex
        w = VF(1.0)
        if depth > 0:
            prev_delta = P.row(S, P.PREV_DELTA) > 0.5
            prev_x, prev_y, prev_z = P.row3(S, P.PREV_P)
            pdf_em = area_solid_angle_pdf(px - prev_x, py - prev_y, pz - prev_z, nx, ny, nz, area,
                                          sc.scene_i[L.SC_NUM_EMITTERS])
            w = ti.select(prev_delta, 1.0, power_heuristic(P.row(S, P.PREV_PDF), pdf_em))
        w = ti.select(alive & sees, w, 0.0)
        gx = tpx * lex * w
        gy = tpy * ley * w
        gz = tpz * lez * w
        if ti.static(mode != MODE_PRIMAL):
            P.set_row3(term_g, 0, tpx * w, tpy * w, tpz * w)
    return gx, gy, gz


@ti.func
def _reflectances(sc: ti.template(), scatters: ti.template(), leaf: ti.template(), u: ti.template(), v: ti.template(),
                  ax: ti.template(), ay: ti.template(), az: ti.template(), albedo_tex: ti.template()):
    """Writes the reflectance (ax, ay, az) and texture row (albedo_tex) of every scattering
    lane's diffuse BSDF (`bsdf_i` row `leaf`), looked up once per BSDF the packet's lanes sit
    on: an rgb value goes to its lanes by selects, other textures are evaluated per lane."""
    todo = scatters
    b = lane_max_int(ti.select(todo, leaf, -1))  # the next BSDF; -1: none left
    while b >= 0:
        on = todo & (leaf == b)
        todo = todo & (leaf != b)
        tex0 = sc.bsdf_i[b, L.BI_TEX0]
        albedo_tex = ti.select(on, tex0, albedo_tex)
        if sc.tex_i[tex0, L.TI_TYPE] == L.TEX_RGB:
            c = sc.tex_rgb[tex0]
            ax, ay, az = ti.select(on, c.x, ax), ti.select(on, c.y, ay), ti.select(on, c.z, az)
        else:
            for l in range(LANES):
                if on[l]:
                    albedo = eval_texture(sc, tex0, vec2(u[l], v[l]))
                    ax[l], ay[l], az[l] = albedo.x, albedo.y, albedo.z
        b = lane_max_int(ti.select(todo, leaf, -1))


@ti.func
def _emitter_samples(sc: ti.template(), keys: ti.template(), depth: ti.i32, scatters: ti.template(),
                     px: ti.template(), py: ti.template(), pz: ti.template(), edx: ti.template(), edy: ti.template(),
                     edz: ti.template(), e_dist: ti.template(), e_pdf: ti.template(), ewx: ti.template(),
                     ewy: ti.template(), ewz: ti.template(), e_delta: ti.template(), e_factor: ti.template(),
                     e_u: ti.template(), e_v: ti.template(), term_tex: ti.template()):
    """Writes every scattering lane's emitter sample from (px, py, pz) into the given lane
    vectors (direction, distance, pdf, weight, delta, factor, uv) and its texture row into
    term_tex row 1: on all lanes at once when every emitter is a triangle-mesh area light
    (packet_emitters.py), else `emitters.sample_emitter` per lane."""
    if sc.scene_i[L.SC_TRIANGLE_EMITTERS] == 0:
        for l in range(LANES):
            if scatters[l]:
                key = keys[l]
                es = sample_emitter(
                    sc, vec3(px[l], py[l], pz[l]),
                    rng.rand(key, rng.bounce_dim(depth, rng.OFS_EMITTER_SELECT)),
                    rng.rand2(key, rng.bounce_dim(depth, rng.OFS_EMITTER_2D)),
                )
                edx[l], edy[l], edz[l] = es.d.x, es.d.y, es.d.z
                e_dist[l] = es.dist
                e_pdf[l] = es.pdf
                ewx[l], ewy[l], ewz[l] = es.weight.x, es.weight.y, es.weight.z
                e_delta[l] = es.delta
                e_factor[l] = es.factor
                e_u[l], e_v[l] = es.uv.x, es.uv.y
                term_tex[1, l] = es.tex
    else:
        edx, edy, edz, e_dist, e_pdf, ewx, ewy, ewz, e_factor, e_tex, e_u, e_v = sample_triangle_emitters(
            sc, keys, depth, scatters, px, py, pz)
        term_tex[1, :] = e_tex


@ti.func
def _roulette_lanes(S: ti.template(), keys: ti.template(), depth: ti.i32, rr_depth: ti.i32, valid: ti.template(),
                    tpx: ti.template(), tpy: ti.template(), tpz: ti.template()):
    """Russian roulette on the lanes that scattered (`valid`), from depth + 1 = rr_depth on:
    returns their throughput (x, y, z), rescaled where they survive, and which lanes go on."""
    survive = valid
    tp_max = _max3(tpx, tpy, tpz)
    rx, ry, rz = tpx, tpy, tpz
    if depth + 1 >= rr_depth:
        rr_prob = roulette_probability(tp_max, P.row(S, P.ETA))
        stays = rand_lanes(keys, rng.bounce_dim(depth, rng.OFS_RR)) < rr_prob
        scale = 1.0 / ti.select(rr_prob > 0.0, rr_prob, 1.0)
        rx = ti.select(valid & stays, tpx * scale, tpx)
        ry = ti.select(valid & stays, tpy * scale, tpy)
        rz = ti.select(valid & stays, tpz * scale, tpz)
        survive = survive & stays
    return rx, ry, rz, survive & (tp_max > 0.0)


@ti.func
def _vertex_terms(sc: ti.template(), ad: ti.template(), S: ti.template(), G: ti.template(), alive: ti.template(),
                  contribute: ti.template(), valid: ti.template(), term_tex: ti.template(), term_g: ti.template(),
                  u: ti.template(), v: ti.template(), e_u: ti.template(), e_v: ti.template(), iax: ti.template(),
                  iay: ti.template(), iaz: ti.template(), depth: ti.i32, single_pass: ti.i32, mode: ti.template()):
    """The replay pass's derivative terms of the vertex (rows: emission, emitter radiance,
    reflectance through the emitter sample, reflectance through the sampled lobe); with
    `single_pass` the lobe's d log f is kept for the path's end (deferred_terms.py)."""
    # adjoint: only lanes with a term of a texture whose gradient is wanted (usually few)
    wanted = ti.select(alive, 1, 0)
    if ti.static(mode == MODE_ADJOINT):
        t0, t1, t2, t3 = term_tex[0, :], term_tex[1, :], term_tex[2, :], term_tex[3, :]
        wanted = ti.select(alive & (_wanted_lanes(sc, t0) | (contribute & (_wanted_lanes(sc, t1)
                                                                           | _wanted_lanes(sc, t2)))
                                    | (valid & _wanted_lanes(sc, t3))), 1, 0)
    if any_lane(wanted != 0):
        # adjoint: gradients of rgb textures go to the packet's table (packet_gradients.py)
        for l in range(LANES):
            if single_pass and valid[l] and _lobe_wanted(sc, term_tex[3, l], mode):
                keep(S, l, depth, term_tex[3, l], -1, vec2(u[l], v[l]), vec3(iax[l], iay[l], iaz[l]), vec3(0.0))
            if wanted[l] != 0:
                t_tex = ti.Vector([term_tex[0, l], ti.select(contribute[l], term_tex[1, l], -1),
                                   ti.select(contribute[l], term_tex[2, l], -1),
                                   ti.select(valid[l], term_tex[3, l], -1)])
                delta = P.lane3(S, l, P.DELTA)
                if ti.static(mode == MODE_ADJOINT):
                    for j in ti.static(range(4)):
                        tex = t_tex[j]
                        if tex >= 0 and not gradient_wanted(sc, tex):
                            t_tex[j] = -1
                        elif tex >= 0 and sc.tex_i[tex, L.TI_TYPE] == L.TEX_RGB:
                            add_rgb_gradient(ad, G, tex, delta * vec3(term_g[3 * j, l], term_g[3 * j + 1, l],
                                                                      term_g[3 * j + 2, l]))
                            t_tex[j] = -1
                # other textures (and forward mode) through the generic code, with the
                # lane's rows gathered only when some term is left
                if t_tex.max() >= 0:
                    t_uv = ti.Matrix([[u[l], v[l]], [e_u[l], e_v[l]], [u[l], v[l]], [u[l], v[l]]])
                    t_g = ti.Matrix.zero(ti.f32, 4, 3)
                    for k in ti.static(range(12)):
                        t_g[k // 3, k % 3] = term_g[k, l]
                    d = flush_terms(sc, ad, 4, t_tex, t_uv, t_g, delta, mode)
                    if ti.static(mode != MODE_ADJOINT):
                        P.set_lane3(S, l, P.DTOTAL, P.lane3(S, l, P.DTOTAL) + d)
