"""Perspective camera rays (Mitsuba's `PerspectiveCamera::sample_ray`) and reconstruction filters."""

import taichi as ti

from . import layout as L

vec2 = ti.math.vec2
vec3 = ti.math.vec3


@ti.func
def camera_ray(sc: ti.template(), film_uv: vec2):
    """Ray through film position (u right, v down, both in [0, 1]): (origin, direction, tmax)."""
    local = vec3(
        (0.5 - film_uv.x) * 2.0 * sc.cam[L.CAM_TAN_X], (0.5 - film_uv.y) * 2.0 * sc.cam[L.CAM_TAN_Y], 1.0
    ).normalized()
    near_t = sc.cam[L.CAM_NEAR] / local.z
    far_t = sc.cam[L.CAM_FAR] / local.z
    d = vec3(
        sc.cam[0] * local.x + sc.cam[1] * local.y + sc.cam[2] * local.z,
        sc.cam[4] * local.x + sc.cam[5] * local.y + sc.cam[6] * local.z,
        sc.cam[8] * local.x + sc.cam[9] * local.y + sc.cam[10] * local.z,
    ).normalized()
    o = vec3(sc.cam[3], sc.cam[7], sc.cam[11]) + d * near_t
    return o, d, far_t - near_t


@ti.func
def gaussian_weight(x: ti.f32, stddev: ti.f32, radius: ti.f32) -> ti.f32:
    """Mitsuba's truncated Gaussian: exp(-x^2 / 2s^2) - exp(-r^2 / 2s^2), clamped at 0."""
    alpha = -1.0 / (2.0 * stddev * stddev)
    return ti.max(0.0, ti.exp(alpha * x * x) - ti.exp(alpha * radius * radius))
