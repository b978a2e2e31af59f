"""Fresnel equations (Mitsuba's `fresnel` and `fresnel_conductor`)."""

import taichi as ti

vec3 = ti.math.vec3


@ti.func
def fresnel_dielectric(cos_theta_i: ti.f32, eta: ti.f32):
    """Unpolarised reflectance of a dielectric interface with relative IOR `eta` (int/ext).

    Returns (r, cos_theta_t, eta_it, eta_ti); cos_theta_t carries the sign of the transmitted
    side, eta_it/eta_ti are the relative IORs seen from the incident/transmitted sides."""
    outside = cos_theta_i >= 0.0
    eta_it = eta if outside else 1.0 / eta
    eta_ti = 1.0 / eta_it
    cos_t_sqr = 1.0 - (1.0 - cos_theta_i * cos_theta_i) * eta_ti * eta_ti
    cos_i = ti.abs(cos_theta_i)
    cos_t = ti.sqrt(ti.max(cos_t_sqr, 0.0))
    a_s = (cos_i - eta_it * cos_t) / (cos_i + eta_it * cos_t)
    a_p = (cos_t - eta_it * cos_i) / (cos_t + eta_it * cos_i)
    r = 0.5 * (a_s * a_s + a_p * a_p)
    if eta == 1.0:
        r = 0.0
    elif cos_i == 0.0:
        r = 1.0
    cos_theta_t = -cos_t if cos_theta_i >= 0.0 else cos_t
    return r, cos_theta_t, eta_it, eta_ti


@ti.func
def fresnel_conductor(cos_theta_i: ti.f32, eta: vec3, k: vec3) -> vec3:
    """Unpolarised reflectance of a conductor with complex IOR eta + i k (per channel)."""
    c2 = cos_theta_i * cos_theta_i
    s2 = 1.0 - c2
    s4 = s2 * s2
    temp1 = eta * eta - k * k - s2
    a2pb2 = ti.sqrt(ti.max(temp1 * temp1 + 4.0 * k * k * eta * eta, 0.0))
    a = ti.sqrt(ti.max(0.5 * (a2pb2 + temp1), 0.0))
    term1 = a2pb2 + c2
    term2 = 2.0 * cos_theta_i * a
    r_s = (term1 - term2) / (term1 + term2)
    term3 = a2pb2 * c2 + s4
    term4 = term2 * s2
    r_p = r_s * (term3 - term4) / (term3 + term4)
    return 0.5 * (r_s + r_p)
