"""Derivatives with respect to vertex positions ("interior" shape gradients, no silhouettes).

Like Mitsuba's `prb` without reparameterisation: rays and sampled directions are detached, a
hit point moves along its (fixed) ray when its triangle moves, a point sampled on an emitter
moves with its triangle, and MIS weights are detached (their derivatives sum to zero in
expectation). Supported terms, for diffuse surfaces of triangle meshes:

- next-event estimation: the geometry term G = cos_x cos_y A / r^2 (A: the emitter's area,
  the inverse of its area density) with respect to the receiving point and normal, the emitter
  point and normal, and A;
- the indirect term: the cosine of the sampled direction with respect to the normal.

Visibility changes (silhouettes, shadow boundaries) need edge sampling or reparameterisation:
not part of this estimator.
"""

import taichi as ti

from . import layout as L

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
