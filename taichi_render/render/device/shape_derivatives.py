"""Derivatives with respect to vertex positions ("interior" shape gradients, no silhouettes).

Like Mitsuba's `prb` without reparameterisation: rays and sampled directions are detached, a
hit point moves along its (fixed) ray when its triangle moves, a point sampled on an emitter
moves with its triangle. Supported terms, for diffuse surfaces of triangle meshes:

- next-event estimation: the geometry term G = cos_x cos_y A / r^2 (A: the emitter's area,
  the inverse of its area density) with respect to the receiving point and normal, the emitter
  point and normal, and A; for point lights cos_x / r^2, for environment emitters cos_x, with
  respect to the receiving point and normal;
- the indirect term: the cosine of the sampled direction with respect to the normal;
- the MIS weights (power heuristic) between an emitter sample and a BSDF sample of an area
  light (a mesh, a sphere or a disk, each sampled uniformly by area) or the environment: at a
  diffuse vertex pb / pe = G / (π · emitter selection), so the emitter sample's contribution
  changes by (2 w - 1) d log G and the emission a BSDF sample finds by 2 (1 - w) d log G
  (path_tracer.py); where that sample hits a sphere, G also follows the sphere's normal at the
  moving hit point (`analytic_normal_gradient`). Each strategy's samples are held in its own
  measure (area on the light, directions at x), so the two derivatives differ point by point
  and only weights that move with the geometry make their sum the integral's derivative.

The normal is the triangle's own, or on a mesh with vertex normals the interpolated shading
normal: its gradients go to the vertex normals (rows V.. of `grad_vtx`, see
derivative_data.py), which the host folds into the positions' gradient through the normals'
recomputation (shapes/vertex_normals.py).

Visibility changes (silhouettes, shadow boundaries) need edge sampling or reparameterisation:
not part of this estimator.
"""

import taichi as ti

from .. import layout as L
from ..view import ANALYTIC_SHAPES
from .intersect import INF, sphere_center

vec2 = ti.math.vec2
vec3 = ti.math.vec3
MODE_ADJOINT = 1


@ti.func
def nee_geometry(x: vec3, n: vec3, y: vec3, nl: vec3, area: ti.f32):
    """G = cos_x cos_y A / r^2 and its gradients with respect to x, n, y, nl and A."""
    v = y - x
    r2 = v.dot(v)
    r = ti.sqrt(r2)
    w = v / r
    cx = n.dot(w)
    cy = -nl.dot(w)
    g = cx * cy * area / r2
    k = area / r2
    dcx_dy = (n - cx * w) / r  # d cos_x / d y  (= -d cos_x / d x)
    dcy_dy = -(nl + cy * w) / r  # d cos_y / d y  (= -d cos_y / d x)
    dinv_r2_dy = -2.0 * w / (r2 * r)
    gy = k * (cy * dcx_dy + cx * dcy_dy) + cx * cy * area * dinv_r2_dy
    gx = -gy
    gn = k * cy * w
    gnl = -k * cx * w
    ga = cx * cy / r2
    return g, gx, gn, gy, gnl, ga


@ti.func
def emitter_geometry(sc: ti.template(), es: ti.template(), x: vec3, n: vec3):
    """The factor of an emitter sample's contribution that depends on the receiving point x and
    its normal n, and on the emitter's point, normal and area: (g, gx, gn, gy, gnl, ga) as
    `nee_geometry` gives them. Area emitters: G = cos_x cos_y A / r^2; point lights:
    cos_x / r^2 (gy, gnl, ga zero: the light is not a mesh); directions (environment
    emitters): cos_x."""
    g, gx, gn, gy, gnl, ga = 0.0, vec3(0.0), vec3(0.0), vec3(0.0), vec3(0.0), 0.0
    if es.dist >= INF:
        g = n.dot(es.d)
        gn = es.d
    elif es.delta:
        v = es.p - x
        r2 = v.dot(v)
        r = ti.sqrt(r2)
        w = v / r
        cx = n.dot(w)
        g = cx / r2
        gn = w / r2
        gx = -(n - cx * w) / (r * r2) + 2.0 * cx * w / (r * r2)
    else:
        g, gx, gn, gy, gnl, ga = nee_geometry(x, n, es.p, es.n, sc.em_f[es.emitter, L.EF_AREA])
    return g, gx, gn, gy, gnl, ga


@ti.func
def analytic_normal_gradient(sc: ti.template(), shape: ti.i32, y: vec3, n: vec3, side: ti.f32, gnl: vec3) -> vec3:
    """Gradient with respect to a point y on an analytic shape (a static sphere or disk) of a
    function of its normal n (outward or flipped) turned to the viewer, nl = side * n(y), given
    its gradient gnl in nl: a sphere's normal turns with y, d nl = ± side (I - n nᵀ) dy / R
    (+ where n points outward); a disk's is constant (0). Zero where the scene has no
    analytic shapes."""
    g = vec3(0.0)
    if ti.static(sc.features & ANALYTIC_SHAPES):
        if sc.shape_i[shape, L.SI_TYPE] == L.PRIM_SPHERE:
            c = sphere_center(sc, shape)
            outward = 1.0 if n.dot(y - c) > 0.0 else -1.0
            g = (outward * side) * (gnl - n * n.dot(gnl)) / sc.shape_f[shape, L.SF_RADIUS]
    return g


@ti.func
def _triangle(sc: ti.template(), tri: ti.i32):
    e1 = sc.tri_p[tri, 1]
    e2 = sc.tri_p[tri, 2]
    c = e1.cross(e2)
    clen = c.norm()
    sign = -1.0 if sc.shape_i[sc.tri_v[tri].w, L.SI_FLIP_NORMALS] else 1.0
    return e1, e2, c / clen, clen, sign


@ti.func
def triangle_scatter(sc: ti.template(), ad: ti.template(), tri: ti.i32, b: vec2, ray_d: vec3,
                     on_ray: ti.i32, gx: vec3, gn: vec3):
    """Adjoint: add the gradients gx (of a point with barycentrics b; on a fixed ray when
    on_ray, else attached to the triangle) and gn (of the triangle's oriented unit normal) into
    the triangle's vertex gradients."""
    e1, e2, n0, clen, sign = _triangle(sc, tri)
    gp = gx
    if on_ray:
        nd = n0.dot(ray_d)
        gp = n0 * (gx.dot(ray_d) / nd) if nd != 0.0 else vec3(0.0)
    gc = sign * (gn - n0 * n0.dot(gn)) / clen
    g_e1 = e2.cross(gc)
    g_e2 = gc.cross(e1)
    v = sc.tri_v[tri]
    b0 = 1.0 - b.x - b.y
    ti.atomic_add(ad.grad_vtx[v.x], b0 * gp - g_e1 - g_e2)
    ti.atomic_add(ad.grad_vtx[v.y], b.x * gp + g_e1)
    ti.atomic_add(ad.grad_vtx[v.z], b.y * gp + g_e2)


@ti.func
def triangle_tangent(sc: ti.template(), ad: ti.template(), tri: ti.i32, b: vec2, ray_d: vec3, on_ray: ti.i32):
    """Forward: (dx, dn) of the point and oriented normal along the vertex tangents."""
    e1, e2, n0, clen, sign = _triangle(sc, tri)
    v = sc.tri_v[tri]
    t0 = ad.tan_vtx[v.x]
    t1 = ad.tan_vtx[v.y]
    t2 = ad.tan_vtx[v.z]
    dp = (1.0 - b.x - b.y) * t0 + b.x * t1 + b.y * t2
    dx = dp
    if on_ray:
        nd = n0.dot(ray_d)
        dx = ray_d * (n0.dot(dp) / nd) if nd != 0.0 else vec3(0.0)
    dc = (t1 - t0).cross(e2) + e1.cross(t2 - t0)
    dn = sign * (dc - n0 * n0.dot(dc)) / clen
    return dx, dn


@ti.func
def _shading_normal(sc: ti.template(), tri: ti.i32, b: vec2):
    """The interpolated vertex normal ns of a triangle at barycentrics b, |ns|, the shading
    normal's sign (flip_normals) and the triangle's vertex indices."""
    v = sc.tri_v[tri]
    ns = (1.0 - b.x - b.y) * sc.vtx_n[v.x] + b.x * sc.vtx_n[v.y] + b.y * sc.vtx_n[v.z]
    length = ns.norm()
    sign = -1.0 if sc.shape_i[v.w, L.SI_FLIP_NORMALS] else 1.0
    return ns, length, sign, v


@ti.func
def _barycentric_rows(sc: ti.template(), tri: ti.i32, ray_d: vec3):
    """Rows r1, r2 with d b1 = -r1 . dp, d b2 = -r2 . dp for the hit of a fixed ray, where dp
    is the barycentric mix of the vertex displacements (from x = p0 + b1 e1 + b2 e2 = o + t d:
    [e1 e2 -d] d(b1, b2, t) = -dp)."""
    e1 = sc.tri_p[tri, 1]
    e2 = sc.tri_p[tri, 2]
    det = e1.dot(e2.cross(-ray_d))
    r1 = vec3(0.0)
    r2 = vec3(0.0)
    if det != 0.0:
        r1 = e2.cross(-ray_d) / det
        r2 = (-ray_d).cross(e1) / det
    return r1, r2


@ti.func
def shading_normal_scatter(sc: ti.template(), ad: ti.template(), tri: ti.i32, b: vec2, ray_d: vec3, gn: vec3):
    """Adjoint: add the gradient gn of the (oriented, unit) shading normal at the hit of a
    fixed ray (direction ray_d) with barycentrics b into the gradients of the triangle's three
    vertex normals, and of its vertex positions through the hit's barycentrics."""
    ns, length, sign, v = _shading_normal(sc, tri, b)
    if length > 0.0:
        s = ns / length
        g = sign * (gn - s * s.dot(gn)) / length
        offset = ad.grad_vtx.shape[0] // 2
        b0 = 1.0 - b.x - b.y
        ti.atomic_add(ad.grad_vtx[offset + v.x], b0 * g)
        ti.atomic_add(ad.grad_vtx[offset + v.y], b.x * g)
        ti.atomic_add(ad.grad_vtx[offset + v.z], b.y * g)
        n0 = sc.vtx_n[v.x]
        r1, r2 = _barycentric_rows(sc, tri, ray_d)
        g_dp = -(g.dot(sc.vtx_n[v.y] - n0) * r1 + g.dot(sc.vtx_n[v.z] - n0) * r2)
        ti.atomic_add(ad.grad_vtx[v.x], b0 * g_dp)
        ti.atomic_add(ad.grad_vtx[v.y], b.x * g_dp)
        ti.atomic_add(ad.grad_vtx[v.z], b.y * g_dp)


@ti.func
def shading_normal_tangent(sc: ti.template(), ad: ti.template(), tri: ti.i32, b: vec2, ray_d: vec3) -> vec3:
    """Forward: the tangent of the (oriented, unit) shading normal at the hit of a fixed ray
    along the vertex normals' and positions' tangents."""
    ns, length, sign, v = _shading_normal(sc, tri, b)
    dn = vec3(0.0)
    if length > 0.0:
        offset = ad.tan_vtx.shape[0] // 2
        b0 = 1.0 - b.x - b.y
        d = b0 * ad.tan_vtx[offset + v.x] + b.x * ad.tan_vtx[offset + v.y] + b.y * ad.tan_vtx[offset + v.z]
        dp = b0 * ad.tan_vtx[v.x] + b.x * ad.tan_vtx[v.y] + b.y * ad.tan_vtx[v.z]
        r1, r2 = _barycentric_rows(sc, tri, ray_d)
        n0 = sc.vtx_n[v.x]
        d += -r1.dot(dp) * (sc.vtx_n[v.y] - n0) - r2.dot(dp) * (sc.vtx_n[v.z] - n0)
        s = ns / length
        dn = sign * (d - s * s.dot(d)) / length
    return dn


@ti.func
def receiver_scatter(sc: ti.template(), ad: ti.template(), tri: ti.i32, b: vec2, ray_d: vec3, gx: vec3, gn: vec3,
                     moves: ti.template()):
    """Adjoint at a receiving point, the hit of a fixed ray (direction ray_d, barycentrics b)
    on triangle `tri`: add the gradients gx of the point (when `moves`, a compile-time bool;
    else gx is ignored) and gn of its normal (the triangle's own, or on a mesh with vertex
    normals the interpolated shading normal) into the gradients of the triangle's vertex
    positions and, for a shading normal, of its vertex normals."""
    gp = vec3(0.0)
    if ti.static(moves):
        gp = gx
    if sc.shape_i[sc.tri_v[tri].w, L.SI_HAS_NORMALS] == L.NORMALS_NONE:
        triangle_scatter(sc, ad, tri, b, ray_d, 1, gp, gn)
    else:
        if ti.static(moves):
            triangle_scatter(sc, ad, tri, b, ray_d, 1, gx, vec3(0.0))
        shading_normal_scatter(sc, ad, tri, b, ray_d, gn)


@ti.func
def receiver_tangent(sc: ti.template(), ad: ti.template(), tri: ti.i32, b: vec2, ray_d: vec3):
    """Forward at a receiving point, the hit of a fixed ray: (dx, dn) of the point and of its
    normal (the triangle's own or the shading normal, as `receiver_scatter`) along the vertex
    tangents."""
    dx, dn = triangle_tangent(sc, ad, tri, b, ray_d, 1)
    if sc.shape_i[sc.tri_v[tri].w, L.SI_HAS_NORMALS] != L.NORMALS_NONE:
        dn = shading_normal_tangent(sc, ad, tri, b, ray_d)
    return dx, dn
