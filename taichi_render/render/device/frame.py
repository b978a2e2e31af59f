"""Orthonormal frames (shading frames), Duff et al. 2017 ("Building an Orthonormal Basis, Revisited")."""

import taichi as ti

vec3 = ti.math.vec3
mat3 = ti.math.mat3


@ti.func
def tangents(nx: ti.template(), ny: ti.template(), nz: ti.template()):
    """The tangent s and bitangent t that complete the unit normal n to an orthonormal frame,
    on components, scalars or lane vectors (the packet driver's shading frames):
    (sx, sy, sz, tx, ty, tz)."""
    sign = ti.select(nz >= 0.0, 1.0, -1.0)
    a = -1.0 / (sign + nz)
    b = nx * ny * a
    return 1.0 + sign * nx * nx * a, sign * b, -sign * nx, b, sign + ny * ny * a, -ny


@ti.func
def frame_from_normal(n: vec3) -> mat3:
    """Rows (s, t, n): to_local(v) = F @ v, to_world(v) = F.transpose() @ v."""
    sx, sy, sz, tx, ty, tz = tangents(n.x, n.y, n.z)
    return mat3([[sx, sy, sz], [tx, ty, tz], [n.x, n.y, n.z]])


@ti.func
def to_local(f: mat3, v: vec3) -> vec3:
    return f @ v


@ti.func
def to_world(f: mat3, v: vec3) -> vec3:
    return f.transpose() @ v


@ti.func
def reflect(wi: vec3) -> vec3:
    """Mirror a local direction about the normal (z axis)."""
    return vec3(-wi.x, -wi.y, wi.z)


@ti.func
def refract(wi: vec3, cos_theta_t: ti.f32, eta_ti: ti.f32) -> vec3:
    """Refract local `wi` given the signed cosine of the transmitted direction (Mitsuba convention)."""
    return vec3(-eta_ti * wi.x, -eta_ti * wi.y, cos_theta_t)
