"""Ray intersection: triangles, analytic spheres and disks, BVH traversal, surface interactions.

Rays are (o, d, tmax) with d normalised. Kernels that call these helpers are never
differentiated by Taichi (adjoints are written by hand), so loops here may use while/break.
"""

import taichi as ti

from .. import layout as L
from ..packing.quads import pair_hit
from ..view import ANALYTIC_SHAPES
from .frame import frame_from_normal
from .warp import select_max

vec2 = ti.math.vec2
vec3 = ti.math.vec3
ivec2 = ti.math.ivec2
mat3 = ti.math.mat3

INF = 3.0e38
STACK_SIZE = 64
# Mitsuba's ray epsilon: origins of spawned rays move off the surface by this relative amount
RAY_EPSILON = 8.940697e-05
SHADOW_EPSILON = RAY_EPSILON * 10.0

Hit = ti.types.struct(t=ti.f32, prim=ti.i32, b1=ti.f32, b2=ti.f32)
Interaction = ti.types.struct(
    valid=ti.i32,
    t=ti.f32,
    p=vec3,
    n=vec3,  # geometric normal (flipped with flip_normals)
    sh_n=vec3,  # shading normal
    uv=vec2,
    shape=ti.i32,
    tri=ti.i32,  # triangle index, -1 for analytic shapes
    b=vec2,  # barycentrics (b1, b2) on the triangle
)


@ti.func
def _row3(a: ti.template(), row: ti.i32, col: ti.i32) -> vec3:
    return vec3(a[row, col], a[row, col + 1], a[row, col + 2])


@ti.func
def sphere_center(sc: ti.template(), s: ti.i32) -> vec3:
    """The centre of sphere shape row `s`."""
    return _row3(sc.shape_f, s, L.SF_CENTER)


@ti.func
def affine_point(a: ti.template(), row: ti.i32, col: ti.i32, p: vec3) -> vec3:
    """Apply the 3x4 row-major affine transform stored in a[row, col:col+12] to a point."""
    return vec3(
        a[row, col + 0] * p.x + a[row, col + 1] * p.y + a[row, col + 2] * p.z + a[row, col + 3],
        a[row, col + 4] * p.x + a[row, col + 5] * p.y + a[row, col + 6] * p.z + a[row, col + 7],
        a[row, col + 8] * p.x + a[row, col + 9] * p.y + a[row, col + 10] * p.z + a[row, col + 11],
    )


@ti.func
def affine_vector(a: ti.template(), row: ti.i32, col: ti.i32, v: vec3) -> vec3:
    return vec3(
        a[row, col + 0] * v.x + a[row, col + 1] * v.y + a[row, col + 2] * v.z,
        a[row, col + 4] * v.x + a[row, col + 5] * v.y + a[row, col + 6] * v.z,
        a[row, col + 8] * v.x + a[row, col + 9] * v.y + a[row, col + 10] * v.z,
    )


@ti.func
def affine_normal(a_inv: ti.template(), row: ti.i32, col: ti.i32, n: vec3) -> vec3:
    """Normals transform with the inverse transpose: pass the *inverse* (to_local) matrix."""
    return vec3(
        a_inv[row, col + 0] * n.x + a_inv[row, col + 4] * n.y + a_inv[row, col + 8] * n.z,
        a_inv[row, col + 1] * n.x + a_inv[row, col + 5] * n.y + a_inv[row, col + 9] * n.z,
        a_inv[row, col + 2] * n.x + a_inv[row, col + 6] * n.y + a_inv[row, col + 10] * n.z,
    ).normalized()


TRI_TO_BARY = 3  # tri_p rows 3-5: the inverse of [e1 | e2 | e1 x e2] (scene_data.barycentric_transforms)


@ti.func
def intersect_triangle_rows(sc: ti.template(), tri: ti.i32, o: vec3, d: vec3):
    """Ray against triangle `tri` by its barycentric transform M (Baldwin and Weber, JCGT 2016):
    M (x - p0) = (b1, b2, h), h the height above the plane. The ray meets the plane at
    t = -h(o) / h(d), at barycentrics M (o - p0) + t M d. Half the arithmetic of Moller-Trumbore
    (which ray packets test most), the same hits up to rounding. Returns (t, b1, b2); t = INF on a
    miss."""
    s = o - sc.tri_p[tri, 0]
    m0 = sc.tri_p[tri, TRI_TO_BARY]
    m1 = sc.tri_p[tri, TRI_TO_BARY + 1]
    m2 = sc.tri_p[tri, TRI_TO_BARY + 2]
    hd = m2.dot(d)
    tt = -m2.dot(s) / hd if hd != 0.0 else -1.0
    b1 = m0.dot(s) + tt * m0.dot(d)
    b2 = m1.dot(s) + tt * m1.dot(d)
    t = INF
    if b1 >= 0.0 and b2 >= 0.0 and b1 + b2 <= 1.0 and tt > 0.0:
        t = tt
    return t, b1, b2


@ti.func
def intersect_pair_rows(sc: ti.template(), k: ti.i32, unit: ivec2, o: vec3, d: vec3):
    """Ray against the triangle pair (parallelogram) headed by primitive k, with `node_i` unit
    row `unit` = (code, pair_p row) (quads.py): one plane test in the parallelogram's frame.
    Returns (t, prim, b1, b2): prim k or k + 1, whichever triangle was hit, with its own
    barycentrics; t = INF and prim -1 on a miss."""
    s = o - sc.pair_p[unit.y, 0]
    mh = sc.pair_p[unit.y, 3]
    hd = mh.dot(d)
    t = INF
    prim = -1
    b1 = 0.0
    b2 = 0.0
    if hd != 0.0:
        tt = -mh.dot(s) / hd
        p = s + tt * d
        w_j = sc.pair_p[unit.y, 1].dot(p)
        w_k = sc.pair_p[unit.y, 2].dot(p)
        if w_j >= 0.0 and w_k >= 0.0 and w_j <= 1.0 and w_k <= 1.0 and tt > 0.0:
            t = tt
            second, b1, b2 = pair_hit(unit.x, w_j, w_k)
            prim = k + second
    return t, prim, b1, b2


@ti.func
def intersect_sphere(o: vec3, d: vec3, c: vec3, r: ti.f32) -> ti.f32:
    """Nearest positive hit distance, or INF (robust form, Ray Tracing Gems ch. 7)."""
    f = o - c
    b = -f.dot(d)
    q = f + b * d
    disc = r * r - q.dot(q)
    t = INF
    if disc >= 0.0:
        sq = ti.sqrt(disc)
        sgn = 1.0 if b >= 0.0 else -1.0
        qq = b + sgn * sq
        t0 = f.dot(f) - r * r
        ta = qq
        tb = t0 / qq if qq != 0.0 else INF
        t_near = ti.min(ta, tb)
        t_far = ti.max(ta, tb)
        if t_near > 0.0:
            t = t_near
        elif t_far > 0.0:
            t = t_far
    return t


@ti.func
def intersect_disk(sc: ti.template(), s: ti.i32, o: vec3, d: vec3) -> ti.f32:
    lo = affine_point(sc.shape_f, s, L.SF_TO_LOCAL, o)
    ld = affine_vector(sc.shape_f, s, L.SF_TO_LOCAL, d)
    t = INF
    if ld.z != 0.0:
        tt = -lo.z / ld.z
        px = lo.x + tt * ld.x
        py = lo.y + tt * ld.y
        if tt > 0.0 and px * px + py * py <= 1.0:
            t = tt
    return t


@ti.func
def intersect_prim(sc: ti.template(), k: ti.i32, o: vec3, d: vec3):
    ref = sc.prim[k]
    t = INF
    b1 = 0.0
    b2 = 0.0
    if ref.x == L.PRIM_TRIANGLE:
        t, b1, b2 = intersect_triangle_rows(sc, ref.y, o, d)
    elif ti.static(sc.features & ANALYTIC_SHAPES):
        if ref.x == L.PRIM_SPHERE:
            t = intersect_sphere(o, d, sphere_center(sc, ref.y), sc.shape_f[ref.y, L.SF_RADIUS])
        else:
            t = intersect_disk(sc, ref.y, o, d)
    return t, b1, b2


@ti.func
def _box_entry(o: vec3, inv_d: vec3, lo: vec3, hi: vec3, tmax: ti.f32) -> ti.f32:
    """Entry distance of the ray into the box, INF if it misses before tmax."""
    t0 = (lo - o) * inv_d
    t1 = (hi - o) * inv_d
    tn = ti.max(ti.min(t0, t1).max(), 0.0)
    tf = ti.min(ti.max(t0, t1).min(), tmax)
    return tn if tn <= tf else INF


@ti.func
def _safe_inverse(d: vec3) -> vec3:
    inv = vec3(0.0)
    for i in ti.static(range(3)):
        di = d[i]
        if ti.abs(di) < 1e-30:
            di = 1e-30 if di >= 0.0 else -1e-30
        inv[i] = 1.0 / di
    return inv


@ti.func
def trace(sc: ti.template(), o: vec3, d: vec3, tmax: ti.f32, any_hit: ti.template()) -> Hit:
    """Closest hit along the ray before tmax (any hit when `any_hit`); prim = -1 on a miss."""
    hit = Hit(t=tmax, prim=-1, b1=0.0, b2=0.0)
    inv_d = _safe_inverse(d)
    stack = ti.Vector([0] * STACK_SIZE, ti.i32)
    sp = 0
    num_nodes = sc.scene_i[L.SC_NUM_NODES]
    if num_nodes > 0 and _box_entry(o, inv_d, sc.node_box[0, 0], sc.node_box[0, 1], tmax) < INF:
        stack[0] = 0
        sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        info = sc.node_i[node]
        if info.y > 0:
            for k in range(info.x, info.x + info.y):
                unit = sc.node_i[num_nodes + k]  # quads.py: code 0 alone, > 0 a pair's head, -1 its tail
                t, p, b1, b2 = INF, -1, 0.0, 0.0
                if unit.x == 0:
                    t, b1, b2 = intersect_prim(sc, k, o, d)
                    p = k
                elif unit.x > 0:
                    t, p, b1, b2 = intersect_pair_rows(sc, k, unit, o, d)
                if t < hit.t:
                    hit.t = t
                    hit.prim = p
                    hit.b1 = b1
                    hit.b2 = b2
            if ti.static(any_hit):
                if hit.prim >= 0:
                    break
        else:
            left = node + 1
            right = info.x
            tl = _box_entry(o, inv_d, sc.node_box[left, 0], sc.node_box[left, 1], hit.t)
            tr = _box_entry(o, inv_d, sc.node_box[right, 0], sc.node_box[right, 1], hit.t)
            if tl < INF and tr < INF and sp + 2 <= STACK_SIZE:
                if tl <= tr:
                    stack[sp] = right
                    stack[sp + 1] = left
                else:
                    stack[sp] = left
                    stack[sp + 1] = right
                sp += 2
            elif tl < INF and sp < STACK_SIZE:
                stack[sp] = left
                sp += 1
            elif tr < INF and sp < STACK_SIZE:
                stack[sp] = right
                sp += 1
    return hit


@ti.func
def occluded(sc: ti.template(), o: vec3, d: vec3, tmax: ti.f32) -> ti.i32:
    return ti.i32(trace(sc, o, d, tmax, True).prim >= 0)


@ti.func
def spawn_origin(p: vec3, n: vec3, d: vec3) -> vec3:
    """Offset a surface point along the geometric normal, to the side `d` leaves towards."""
    x, y, z = spawn(p.x, p.y, p.z, n.x, n.y, n.z, d.x, d.y, d.z)
    return vec3(x, y, z)


@ti.func
def spawn(px: ti.template(), py: ti.template(), pz: ti.template(), nx: ti.template(), ny: ti.template(),
          nz: ti.template(), dx: ti.template(), dy: ti.template(), dz: ti.template()):
    """`spawn_origin` on components, scalars or lane vectors: the point moved by
    (1 + max |p_i|) * RAY_EPSILON along n, to the side d leaves towards."""
    mag = (1.0 + select_max(select_max(ti.abs(px), ti.abs(py)), ti.abs(pz))) * RAY_EPSILON
    mag = ti.select(nx * dx + ny * dy + nz * dz >= 0.0, mag, -mag)
    return px + nx * mag, py + ny * mag, pz + nz * mag


@ti.func
def spawn_to(px: ti.template(), py: ti.template(), pz: ti.template(), nx: ti.template(), ny: ti.template(),
             nz: ti.template(), dx: ti.template(), dy: ti.template(), dz: ti.template(), dist: ti.template()):
    """A shadow ray from surface point p (geometric normal n) towards an emitter sample in unit
    direction d at distance `dist` (INF: a direction), on components, scalars or lane vectors:
    (origin x, y, z, direction x, y, z, tmax). The origin is `spawn`'s; towards a point
    (y = p + dist d) the direction and tmax are taken from the origin, as Mitsuba's
    `spawn_ray_to` does, so that the offset does not shift the ray into the emitter's surface
    (which would hide grazing samples of a curved or close emitter); tmax stops short of y by
    SHADOW_EPSILON of the distance."""
    ox, oy, oz = spawn(px, py, pz, nx, ny, nz, dx, dy, dz)
    finite = dist < INF
    reach = ti.select(finite, dist, 1.0)
    vx = px + dx * reach - ox
    vy = py + dy * reach - oy
    vz = pz + dz * reach - oz
    length = ti.sqrt(vx * vx + vy * vy + vz * vz)
    inv = 1.0 / ti.select(length > 0.0, length, 1.0)  # y at the origin: tmax 0, nothing blocks
    return (ox, oy, oz, ti.select(finite, vx * inv, dx), ti.select(finite, vy * inv, dy),
            ti.select(finite, vz * inv, dz), ti.select(finite, length * (1.0 - SHADOW_EPSILON), INF))


@ti.func
def shadow_ray_to(p: vec3, n: vec3, d: vec3, dist: ti.f32):
    """`spawn_to` on vectors: (origin, direction, tmax)."""
    ox, oy, oz, rx, ry, rz, tmax = spawn_to(p.x, p.y, p.z, n.x, n.y, n.z, d.x, d.y, d.z, dist)
    return vec3(ox, oy, oz), vec3(rx, ry, rz), tmax


@ti.func
def triangle_uv(sc: ti.template(), tri: ti.i32, b1: ti.f32, b2: ti.f32, has_uv: ti.i32) -> vec2:
    v = sc.tri_v[tri]
    uv = vec2(b1, b2)
    if has_uv:
        uv = (1.0 - b1 - b2) * sc.vtx_uv[v.x] + b1 * sc.vtx_uv[v.y] + b2 * sc.vtx_uv[v.z]
    return uv


@ti.func
def sphere_uv(local: vec3) -> vec2:
    phi = ti.atan2(local.y, local.x)
    if phi < 0.0:
        phi += 2.0 * 3.141592653589793
    theta = ti.acos(ti.math.clamp(local.z, -1.0, 1.0))
    return vec2(phi * 0.15915494309189535, theta * 0.3183098861837907)


@ti.func
def interaction_at(sc: ti.template(), hit: Hit, o: vec3, d: vec3) -> Interaction:
    """Surface interaction of a hit returned by :func:`trace` (valid = 0 on a miss)."""
    si = Interaction(valid=0, t=hit.t, p=o + hit.t * d, n=vec3(0.0, 0.0, 1.0), sh_n=vec3(0.0, 0.0, 1.0),
                     uv=vec2(0.0), shape=-1, tri=-1, b=vec2(hit.b1, hit.b2))
    if hit.prim >= 0:
        si.valid = 1
        ref = sc.prim[hit.prim]
        if ref.x == L.PRIM_TRIANGLE:
            tri = ref.y
            v = sc.tri_v[tri]
            s = v.w
            si.shape = s
            si.tri = tri
            e1 = sc.tri_p[tri, 1]
            e2 = sc.tri_p[tri, 2]
            si.p = sc.tri_p[tri, 0] + hit.b1 * e1 + hit.b2 * e2
            si.n = e1.cross(e2).normalized()
            si.sh_n = si.n
            if sc.shape_i[s, L.SI_HAS_NORMALS]:
                b0 = 1.0 - hit.b1 - hit.b2
                ns = b0 * sc.vtx_n[v.x] + hit.b1 * sc.vtx_n[v.y] + hit.b2 * sc.vtx_n[v.z]
                if ns.norm_sqr() > 0.0:
                    si.sh_n = ns.normalized()
            si.uv = triangle_uv(sc, tri, hit.b1, hit.b2, sc.shape_i[s, L.SI_HAS_UV])
        elif ti.static(sc.features & ANALYTIC_SHAPES):
            if ref.x == L.PRIM_SPHERE:
                s = ref.y
                si.shape = s
                c = sphere_center(sc, s)
                r = sc.shape_f[s, L.SF_RADIUS]
                local = (si.p - c).normalized()
                si.p = c + r * local
                si.n = local
                si.sh_n = local
                si.uv = sphere_uv(local)
            else:
                s = ref.y
                si.shape = s
                lp = affine_point(sc.shape_f, s, L.SF_TO_LOCAL, si.p)
                si.n = affine_normal(sc.shape_f, s, L.SF_TO_LOCAL, vec3(0.0, 0.0, 1.0))
                si.sh_n = si.n
                r = ti.sqrt(lp.x * lp.x + lp.y * lp.y)
                phi = ti.atan2(lp.y, lp.x)
                if phi < 0.0:
                    phi += 2.0 * 3.141592653589793
                si.uv = vec2(r, phi * 0.15915494309189535)
        if sc.shape_i[si.shape, L.SI_FLIP_NORMALS]:
            si.n = -si.n
            si.sh_n = -si.sh_n
    return si


@ti.func
def shading_frame(si: Interaction) -> mat3:
    return frame_from_normal(si.sh_n)
