"""Ray packets: BVH traversal of `LANES` rays at once, one ray per SIMD lane.

Taichi's CPU code runs one thread per loop iteration and does not vectorize across iterations,
but LLVM does vectorize arithmetic on `ti.types.vector(16, ti.f32)` values. A packet keeps each
ray component in such a vector (structure of arrays), walks the BVH once for all its rays (a node
is entered when any active lane's ray meets its box) and tests every primitive of a leaf against
all lanes at once, with masks (`ti.select`) instead of branches. On this 2-core machine that
traces 3-4x more rays per second than one scalar ray per thread, for camera rays and for
incoherent bounce rays alike.

Kernels that use these helpers must be compiled with `backend.megakernel_compile()` (Taichi's
advanced IR optimisations miscompile the masked traversal loop).
"""

import taichi as ti

from .. import layout as L
from ..device.intersect import TRI_TO_BARY
from ..packing.quads import pair_hit
from ..view import ANALYTIC_SHAPES

LANES = 16  # lane_max_int is written for 16
VF = ti.types.vector(LANES, ti.f32)
VI = ti.types.vector(LANES, ti.i32)
VU = ti.types.vector(LANES, ti.u32)

INF = 3.0e38
STACK_SIZE = 64


@ti.func
def any_lane(mask: ti.template()) -> ti.i32:
    """Whether any lane of a comparison result is set: a maximum over the lanes of 1 or 0.
    (`Matrix.any()` compiles to a chain of branches, which made packet traversal 3x slower; a
    sum of 1s and 0s was sometimes lowered to 16 mask-bit extractions and adds, and made a
    Cornell box render 9 % slower than this maximum, a shuffle-and-max tree.)"""
    return lane_max_int(ti.select(mask, 1, 0)) > 0


@ti.func
def lane_max_int(v: ti.template()) -> ti.i32:
    """The largest lane of an integer lane vector: halves against halves, the shuffle-and-max
    tree LLVM builds for a reduction. Four statements: `Matrix.max()` is a chain of LANES - 1
    assignments, and Taichi's front end lowers a kernel in time quadratic in its statements."""
    h = ti.max(v[0:8], v[8:16])  # LANES == 16
    q = ti.max(h[0:4], h[4:8])
    e = ti.max(q[0:2], q[2:4])
    return ti.max(e[0], e[1])


def new_triangle_lanes():
    """Storage for one triangle per lane: rows p0 (0-2), e1 = p1 - p0 (3-5), e2 = p2 - p0 (6-8)."""
    return ti.Matrix.zero(ti.f32, 9, LANES)


# called in kernels at compile time (a Python function that builds a zero matrix): exempt
# from Taichi's "non-taichi function" warning, as view.SceneView is
new_triangle_lanes._is_taichi_function = False


@ti.func
def row(S: ti.template(), r: ti.template()) -> VF:
    """Row r of a (rows, LANES) matrix as a lane vector (a slice: see packet_state.set_row)."""
    return S[r, :]


@ti.func
def triangle_rows(T: ti.template()):
    """(p0x, p0y, p0z, e1x, e1y, e1z, e2x, e2y, e2z) lane vectors of the triangles in T."""
    return row(T, 0), row(T, 1), row(T, 2), row(T, 3), row(T, 4), row(T, 5), row(T, 6), row(T, 7), row(T, 8)


@ti.func
def unit_normal(e1x: VF, e1y: VF, e1z: VF, e2x: VF, e2y: VF, e2z: VF, sign: VF):
    """normalize(e1 x e2) * sign on every lane (0 for a degenerate triangle)."""
    nx = e1y * e2z - e1z * e2y
    ny = e1z * e2x - e1x * e2z
    nz = e1x * e2y - e1y * e2x
    n_len = ti.sqrt(nx * nx + ny * ny + nz * nz)
    scale = sign / ti.select(n_len > 0.0, n_len, 1.0)
    return nx * scale, ny * scale, nz * scale


@ti.func
def _safe_reciprocal(d: VF) -> VF:
    tiny = ti.select(d >= 0.0, 1e-30, -1e-30)
    return 1.0 / ti.select(ti.abs(d) < 1e-30, tiny, d)


@ti.func
def lane_min(a: VF, b: VF) -> VF:
    """Minimum per lane in one SIMD instruction: b where a is NaN. (`ti.min` lowers to LLVM's
    NaN-aware minnum, which x86 expands into a compare, a min and a blend: with these, packet
    traversal traces 25 % more rays per second.)"""
    return ti.select(a < b, a, b)


@ti.func
def lane_max(a: VF, b: VF) -> VF:
    """Maximum per lane in one SIMD instruction: b where a is NaN (see `lane_min`)."""
    return ti.select(a > b, a, b)


@ti.func
def _box_hits(sc: ti.template(), node: ti.i32, ox: VF, oy: VF, oz: VF, ix: VF, iy: VF, iz: VF, tmax: VF) -> ti.i32:
    """Whether any lane's ray meets the node's box before its tmax (tmax < 0: inactive lane)."""
    lo = sc.node_box[node, 0]
    hi = sc.node_box[node, 1]
    t0x = (lo.x - ox) * ix
    t1x = (hi.x - ox) * ix
    t0y = (lo.y - oy) * iy
    t1y = (hi.y - oy) * iy
    t0z = (lo.z - oz) * iz
    t1z = (hi.z - oz) * iz
    tn = lane_max(lane_max(lane_min(t0x, t1x), lane_min(t0y, t1y)), lane_max(lane_min(t0z, t1z), VF(0.0)))
    tf = lane_min(lane_min(lane_max(t0x, t1x), lane_max(t0y, t1y)), lane_min(lane_max(t0z, t1z), tmax))
    return any_lane(tn <= tf)


@ti.func
def _triangle(sc: ti.template(), tri: ti.i32, ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF):
    """`intersect.intersect_triangle_rows` on every lane: (t, b1, b2), t = INF where the lane
    misses."""
    p0 = sc.tri_p[tri, 0]
    m0 = sc.tri_p[tri, TRI_TO_BARY]
    m1 = sc.tri_p[tri, TRI_TO_BARY + 1]
    m2 = sc.tri_p[tri, TRI_TO_BARY + 2]
    sx = ox - p0.x
    sy = oy - p0.y
    sz = oz - p0.z
    hd = m2.x * dx + m2.y * dy + m2.z * dz
    t = -(m2.x * sx + m2.y * sy + m2.z * sz) / ti.select(hd != 0.0, hd, 1.0)
    b1 = m0.x * sx + m0.y * sy + m0.z * sz + t * (m0.x * dx + m0.y * dy + m0.z * dz)
    b2 = m1.x * sx + m1.y * sy + m1.z * sz + t * (m1.x * dx + m1.y * dy + m1.z * dz)
    ok = (hd != 0.0) & (b1 >= 0.0) & (b2 >= 0.0) & (b1 + b2 <= 1.0) & (t > 0.0)
    return ti.select(ok, t, INF), b1, b2


@ti.func
def _pair_plane(sc: ti.template(), q: ti.i32, ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF):
    """Where every lane's ray meets the plane of pair q (`pair_p` row, quads.py): (t, w_j, w_k),
    the parallelogram weights of the hit point; t = -1 where the ray is parallel to it."""
    a = sc.pair_p[q, 0]
    mj = sc.pair_p[q, 1]
    mk = sc.pair_p[q, 2]
    mh = sc.pair_p[q, 3]
    sx = ox - a.x
    sy = oy - a.y
    sz = oz - a.z
    hd = mh.x * dx + mh.y * dy + mh.z * dz
    t = ti.select(hd != 0.0, -(mh.x * sx + mh.y * sy + mh.z * sz) / ti.select(hd != 0.0, hd, 1.0), -1.0)
    u = mj.x * sx + mj.y * sy + mj.z * sz + t * (mj.x * dx + mj.y * dy + mj.z * dz)
    v = mk.x * sx + mk.y * sy + mk.z * sz + t * (mk.x * dx + mk.y * dy + mk.z * dz)
    return t, u, v


@ti.func
def closer_pair_hit(sc: ti.template(), k: ti.i32, q: ti.i32, ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF,
                    best: VF, prim: VI, hu: VF, hv: VF, any_hit: ti.template()):
    """The triangle pair (parallelogram) headed by primitive k, `pair_p` row q, against every
    lane: (best, prim, w_j, w_k) updated where it is hit closer than `best`, with prim = k and
    the hit's parallelogram weights (`resolve_pairs` turns them into a triangle and its
    barycentrics after the traversal; any-hit traces skip the weights).

    Written for latency: the inside test is one comparison of min(w_j, w_k, 1 - w_j, 1 - w_k)
    (chained mask comparisons wait on one another), and `best` only waits on a minimum."""
    t, u, v = _pair_plane(sc, q, ox, oy, oz, dx, dy, dz)
    slack = lane_min(lane_min(u, v), 1.0 - lane_max(u, v))
    t_in = ti.select((slack >= 0.0) & (t > 0.0), t, INF)
    closer = t_in < best
    new_u = hu
    new_v = hv
    if ti.static(not any_hit):
        new_u = ti.select(closer, u, hu)
        new_v = ti.select(closer, v, hv)
    return lane_min(t_in, best), ti.select(closer, k, prim), new_u, new_v


@ti.func
def resolve_pairs(sc: ti.template(), prim: VI, hb1: VF, hb2: VF):
    """(prim, b1, b2) of a closest-hit traversal with every pair hit (prim a pair's head, the
    weights its parallelogram weights) turned into the triangle hit and its barycentrics."""
    num_nodes = sc.scene_i[L.SC_NUM_NODES]
    code = VI(0)
    for l in ti.static(range(LANES)):
        code[l] = sc.node_i[num_nodes + ti.max(prim[l], 0)].x
    paired = (prim >= 0) & (code > 0)
    second, b1, b2 = pair_hit(code, hb1, hb2)
    return ti.select(paired, prim + second, prim), ti.select(paired, b1, hb1), ti.select(paired, b2, hb2)


@ti.func
def _sphere(sc: ti.template(), s: ti.i32, ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF) -> VF:
    """Nearest positive hit distance per lane, INF on a miss (the robust form of intersect.py)."""
    r = sc.shape_f[s, L.SF_RADIUS]
    fx = ox - sc.shape_f[s, L.SF_CENTER]
    fy = oy - sc.shape_f[s, L.SF_CENTER + 1]
    fz = oz - sc.shape_f[s, L.SF_CENTER + 2]
    b = -(fx * dx + fy * dy + fz * dz)
    qx = fx + b * dx
    qy = fy + b * dy
    qz = fz + b * dz
    disc = r * r - (qx * qx + qy * qy + qz * qz)
    sq = ti.sqrt(lane_max(disc, VF(0.0)))
    qq = b + ti.select(b >= 0.0, sq, -sq)
    t0 = fx * fx + fy * fy + fz * fz - r * r
    ta = qq
    tb = ti.select(qq != 0.0, t0 / ti.select(qq != 0.0, qq, 1.0), INF)
    t_near = lane_min(ta, tb)
    t_far = lane_max(ta, tb)
    t = ti.select(t_near > 0.0, t_near, ti.select(t_far > 0.0, t_far, INF))
    return ti.select(disc >= 0.0, t, INF)


@ti.func
def _disk(sc: ti.template(), s: ti.i32, ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF) -> VF:
    c = L.SF_TO_LOCAL
    lox = sc.shape_f[s, c + 0] * ox + sc.shape_f[s, c + 1] * oy + sc.shape_f[s, c + 2] * oz + sc.shape_f[s, c + 3]
    loy = sc.shape_f[s, c + 4] * ox + sc.shape_f[s, c + 5] * oy + sc.shape_f[s, c + 6] * oz + sc.shape_f[s, c + 7]
    loz = sc.shape_f[s, c + 8] * ox + sc.shape_f[s, c + 9] * oy + sc.shape_f[s, c + 10] * oz + sc.shape_f[s, c + 11]
    ldx = sc.shape_f[s, c + 0] * dx + sc.shape_f[s, c + 1] * dy + sc.shape_f[s, c + 2] * dz
    ldy = sc.shape_f[s, c + 4] * dx + sc.shape_f[s, c + 5] * dy + sc.shape_f[s, c + 6] * dz
    ldz = sc.shape_f[s, c + 8] * dx + sc.shape_f[s, c + 9] * dy + sc.shape_f[s, c + 10] * dz
    tt = -loz / ti.select(ldz != 0.0, ldz, 1.0)
    px = lox + tt * ldx
    py = loy + tt * ldy
    return ti.select((ldz != 0.0) & (tt > 0.0) & (px * px + py * py <= 1.0), tt, INF)


@ti.func
def closer_hit(sc: ti.template(), k: ti.i32, ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF, best: VF, prim: VI,
               hb1: VF, hb2: VF):
    """Primitive k of `prim` (any kind) against every lane: (best, prim, b1, b2) updated where
    it is hit closer than `best`."""
    ref = sc.prim[k]
    t = VF(INF)
    b1 = VF(0.0)
    b2 = VF(0.0)
    if ref.x == L.PRIM_TRIANGLE:
        t, b1, b2 = _triangle(sc, ref.y, ox, oy, oz, dx, dy, dz)
    elif ti.static(sc.features & ANALYTIC_SHAPES):
        if ref.x == L.PRIM_SPHERE:
            t = _sphere(sc, ref.y, ox, oy, oz, dx, dy, dz)
        else:
            t = _disk(sc, ref.y, ox, oy, oz, dx, dy, dz)
    closer = t < best
    return (ti.select(closer, t, best), ti.select(closer, k, prim), ti.select(closer, b1, hb1),
            ti.select(closer, b2, hb2))


@ti.func
def trace_packet(sc: ti.template(), ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF, tmax: VF,
                 any_hit: ti.template()):
    """Closest hits (any hits when `any_hit`) of the packet's rays before their tmax.

    Lanes with tmax < 0 are inactive. Returns (t, prim, b1, b2) per lane, prim = -1 where the
    lane found nothing (t then keeps its tmax); the same hits as `intersect.trace`."""
    ix = _safe_reciprocal(dx)
    iy = _safe_reciprocal(dy)
    iz = _safe_reciprocal(dz)
    best = tmax
    prim = VI(-1)
    hb1 = VF(0.0)
    hb2 = VF(0.0)
    stack = ti.Vector([0] * STACK_SIZE, ti.i32)
    sp = 0
    num_nodes = sc.scene_i[L.SC_NUM_NODES]
    if num_nodes > 0 and _box_hits(sc, 0, ox, oy, oz, ix, iy, iz, best):
        sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        info = sc.node_i[node]
        if info.y > 0:
            # a leaf's lone primitives, then its triangle pairs (pair_p rows q0 to q1; quads.py)
            q0 = sc.node_i[num_nodes + info.x].y
            q1 = sc.node_i[num_nodes + info.x + info.y].y
            pairs_start = info.x + info.y - 2 * (q1 - q0)
            for k in range(info.x, pairs_start):
                best, prim, hb1, hb2 = closer_hit(sc, k, ox, oy, oz, dx, dy, dz, best, prim, hb1, hb2)
            for q in range(q0, q1):
                best, prim, hb1, hb2 = closer_pair_hit(sc, pairs_start + 2 * (q - q0), q, ox, oy, oz, dx, dy, dz,
                                                       best, prim, hb1, hb2, any_hit)
            if ti.static(any_hit):
                if not any_lane((prim < 0) & (tmax >= 0.0)):
                    break
        else:
            left = node + 1
            right = info.x
            hit_l = _box_hits(sc, left, ox, oy, oz, ix, iy, iz, best)
            hit_r = _box_hits(sc, right, ox, oy, oz, ix, iy, iz, best)
            if hit_r and sp < STACK_SIZE:
                stack[sp] = right
                sp += 1
            if hit_l and sp < STACK_SIZE:
                stack[sp] = left
                sp += 1
    if ti.static(not any_hit):
        if any_lane(prim >= 0):
            prim, hb1, hb2 = resolve_pairs(sc, prim, hb1, hb2)
    return best, prim, hb1, hb2
