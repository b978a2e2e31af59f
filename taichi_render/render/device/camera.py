"""Perspective camera rays (Mitsuba's `PerspectiveCamera::sample_ray`, and `BatchSensor`'s split
of the film among its sub-sensors) and reconstruction filters.

The `cam` array (layout.py) holds one CAM_WIDTH row per camera: one for a `perspective` sensor,
one per sub-sensor of a `batch` sensor (sensors/batch.py), whose sub-images lie side by side
across the film, sub-image i over the pixel columns [i * w, (i + 1) * w), w = width / rows.
Row 0's CAM_CROP fields map a film position (pixels of the rendered window) to `film_uv`: the
crop window of a perspective sensor gives u, v in [0, 1]; a batch gives v in [0, 1] and u in
[0, rows), the integer part of u naming the sub-sensor (Mitsuba's `position_sample.x *
n_sensors`) and its fraction the position across that sub-sensor's image.
"""

import math

import numpy as np
import taichi as ti

from .. import layout as L

vec2 = ti.math.vec2
vec3 = ti.math.vec3


def _camera_row(sensor, width: int, height: int, crop) -> np.ndarray:
    """One `cam` row of a perspective sensor whose fov spans a film of `width` x `height`."""
    cam = np.zeros(L.CAM_WIDTH, np.float32)
    m = np.asarray(sensor.to_world, np.float64)
    cam[L.CAM_TO_WORLD : L.CAM_TO_WORLD + 12] = m[:3, :4].ravel()
    fov_x = float(getattr(sensor, "fov_x", getattr(sensor, "fov", 45.0)))
    tan_x = math.tan(math.radians(fov_x) / 2.0)
    cam[L.CAM_TAN_X] = tan_x
    cam[L.CAM_TAN_Y] = tan_x * height / width
    cam[L.CAM_NEAR] = float(getattr(sensor, "near_clip", 0.01))
    cam[L.CAM_FAR] = float(getattr(sensor, "far_clip", 1e4))
    cam[L.CAM_CROP : L.CAM_CROP + 4] = crop
    return cam


def camera_table(sensor) -> np.ndarray:
    """The `cam` array of layout.py for `sensor`: (rows * CAM_WIDTH,) float32, one row for a
    perspective sensor, one per sub-sensor of a batch sensor (see the module docstring)."""
    subs = getattr(sensor, "sub_sensors", None)
    film = sensor.film()
    full_w, full_h = film.size()
    if subs is None:
        ox, oy = getattr(film, "crop_offset", (0, 0))
        return _camera_row(sensor, full_w, full_h, (ox, oy, full_w, full_h))
    sub_w = full_w // len(subs)
    return np.concatenate([_camera_row(s, sub_w, full_h, (0, 0, sub_w, full_h)) for s in subs])


@ti.func
def camera_rows(sc: ti.template()) -> ti.i32:
    """Number of cameras in the `cam` table (sub-sensors of a batch, else 1)."""
    return sc.cam.shape[0] // L.CAM_WIDTH


@ti.func
def pixel_camera(sc: ti.template(), y: ti.i32, x: ti.i32, width: ti.i32, height: ti.i32):
    """The camera row of pixel (y, x) of a film `width` x `height`, and the pixel's index for
    the random numbers: counted within its sub-image, sub-images one after the other (for a
    single camera, y * width + x), so that sub-image 0 of a batch draws the numbers of its
    sub-sensor rendered alone."""
    sub_w = width // camera_rows(sc)
    row = x // sub_w
    return row, (row * height + y) * sub_w + x - row * sub_w


@ti.func
def camera_ray_row(sc: ti.template(), row: ti.i32, film_uv: vec2):
    """Ray of camera `row` through `film_uv` (u right, v down; u in [row, row + 1) across the
    camera's image, see the module docstring): (origin, direction, tmax)."""
    c = row * L.CAM_WIDTH
    u = film_uv.x - ti.cast(row, ti.f32)
    local = vec3(
        (0.5 - u) * 2.0 * sc.cam[c + L.CAM_TAN_X], (0.5 - film_uv.y) * 2.0 * sc.cam[c + L.CAM_TAN_Y], 1.0
    ).normalized()
    near_t = sc.cam[c + L.CAM_NEAR] / local.z
    far_t = sc.cam[c + L.CAM_FAR] / local.z
    d = vec3(
        sc.cam[c + 0] * local.x + sc.cam[c + 1] * local.y + sc.cam[c + 2] * local.z,
        sc.cam[c + 4] * local.x + sc.cam[c + 5] * local.y + sc.cam[c + 6] * local.z,
        sc.cam[c + 8] * local.x + sc.cam[c + 9] * local.y + sc.cam[c + 10] * local.z,
    ).normalized()
    o = vec3(sc.cam[c + 3], sc.cam[c + 7], sc.cam[c + 11]) + d * near_t
    return o, d, far_t - near_t


@ti.func
def camera_ray(sc: ti.template(), film_uv: vec2):
    """Ray through film position `film_uv` (u right, v down, see the module docstring): the
    camera is the one u falls on (Mitsuba's `BatchSensor::sample_ray`: index min(floor(u),
    rows - 1)); (origin, direction, tmax)."""
    row = ti.min(ti.max(ti.cast(ti.floor(film_uv.x), ti.i32), 0), camera_rows(sc) - 1)
    return camera_ray_row(sc, row, film_uv)


@ti.func
def gaussian_weight(x: ti.f32, stddev: ti.f32, radius: ti.f32) -> ti.f32:
    """Mitsuba's truncated Gaussian: exp(-x^2 / 2s^2) - exp(-r^2 / 2s^2), clamped at 0."""
    alpha = -1.0 / (2.0 * stddev * stddev)
    return ti.max(0.0, ti.exp(alpha * x * x) - ti.exp(alpha * radius * radius))
