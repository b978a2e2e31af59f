"""Rendering entry points: pack the scene once, set up the sensor, launch the integrator kernel.

The image of a sensor lives in a `ti.Vector.field(3, ti.f32, shape=(height, width))` owned by
that sensor and overwritten by each render of it (as the API promises).
"""

from __future__ import annotations

import math

import numpy as np
import taichi as ti

from ..backend import ensure_init
from . import layout as L
from .film import ndarray_to_field, normalize_splats
from .scene_data import SceneData

vec3 = ti.math.vec3

_INTEGRATOR_CODES = {"path": 0, "prb": 0, "direct": 1}


def scene_data(scene) -> SceneData:
    """The packed device data of `scene`, built on first use."""
    ensure_init()
    data = getattr(scene, "_render_data", None)
    if data is None:
        data = SceneData(scene)
        scene._render_data = data
    return data


def get_sensor(scene, sensor):
    sensors = scene.sensors()
    if isinstance(sensor, (int, np.integer)):
        if not 0 <= int(sensor) < len(sensors):
            raise IndexError(f"sensor index {sensor} out of range: the scene has {len(sensors)} sensor(s)")
        return sensors[int(sensor)]
    return sensor


def camera_array(sensor, width: int, height: int) -> np.ndarray:
    """The `cam` array of layout.py for a perspective sensor (the fov spans the full film;
    `width`, `height`: the full film size)."""
    cam = np.zeros(L.CAM_WIDTH, np.float32)
    m = np.asarray(sensor.to_world, np.float64)
    cam[L.CAM_TO_WORLD : L.CAM_TO_WORLD + 12] = m[:3, :4].ravel()
    fov_x = float(getattr(sensor, "fov_x", getattr(sensor, "fov", 45.0)))
    tan_x = math.tan(math.radians(fov_x) / 2.0)
    cam[L.CAM_TAN_X] = tan_x
    cam[L.CAM_TAN_Y] = tan_x * height / width
    cam[L.CAM_NEAR] = float(getattr(sensor, "near_clip", 0.01))
    cam[L.CAM_FAR] = float(getattr(sensor, "far_clip", 1e4))
    film = sensor.film()
    full_w, full_h = film.size()
    ox, oy = getattr(film, "crop_offset", (0, 0))
    cam[L.CAM_CROP : L.CAM_CROP + 4] = (ox, oy, full_w, full_h)
    return cam


class FilmBuffers:
    """Per-sensor accumulation buffers and the output field, allocated once per resolution."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.accum = ti.ndarray(vec3, (height, width))
        self.weight = ti.ndarray(ti.f32, (height, width))
        self.image = ti.Vector.field(3, ti.f32, shape=(height, width), needs_grad=True)

    def clear(self):
        self.accum.fill(0.0)
        self.weight.fill(0.0)


def film_buffers(sensor) -> FilmBuffers:
    width, height = (int(v) for v in sensor.film().crop_size())
    buf = getattr(sensor, "_film_buffers", None)
    if buf is None or (buf.width, buf.height) != (width, height):
        buf = FilmBuffers(width, height)
        sensor._film_buffers = buf
    return buf


def check_spp_seed(sensor, spp, seed) -> tuple[int, int]:
    if spp is None:
        spp = sensor.sampler().sample_count
    if isinstance(spp, bool) or not isinstance(spp, (int, np.integer)) or spp <= 0:
        raise ValueError(f"spp must be a positive integer, got {spp!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(spp), int(seed) & 0xFFFFFFFF


def launch_primal(scene, sensor, spp: int, seed: int, sample_offset: int = 0, clear: bool = True):
    """Add `spp` samples per pixel of the scene's integrator into the sensor's buffers."""
    from .path_tracer import render_kernel

    data = scene_data(scene)
    buf = film_buffers(sensor)
    data.np["cam"] = camera_array(sensor, *sensor.film().size())
    data.upload_one("cam")
    if clear:
        buf.clear()
    integ = scene.integrator()
    kind = integ.type_name
    if kind not in _INTEGRATOR_CODES:
        raise NotImplementedError(f"integrator {kind!r} cannot render")
    if kind == "direct":
        int_a, int_b = int(integ.emitter_samples), int(integ.bsdf_samples)
    else:
        int_a, int_b = int(integ.max_depth), int(integ.rr_depth)
    rfilter = sensor.film().rfilter
    if rfilter.type_name == "box":
        rf, radius, stddev = L.RFILTER_BOX, 0.5, 0.5
    else:
        stddev = float(rfilter.stddev)
        rf, radius = L.RFILTER_GAUSSIAN, float(getattr(rfilter, "radius", 4.0 * stddev))
    render_kernel(
        *data.arrays(), buf.accum, buf.weight, _INTEGRATOR_CODES[kind], seed, spp, sample_offset,
        int_a, int_b, int(bool(integ.hide_emitters)), rf, radius, stddev,
    )
    return buf


def develop(sensor) -> ti.Field:
    """Normalise the accumulated samples and copy them into the sensor's image field."""
    buf = film_buffers(sensor)
    normalize_splats(buf.accum, buf.weight)
    ndarray_to_field(buf.accum, buf.image)
    return buf.image


def render(scene, params=None, sensor=0, spp=None, seed=0, seed_grad=None) -> ti.Field:
    """Render `scene` and return the sensor's image field (see the package docs for arguments)."""
    ensure_init()
    sensor_obj = get_sensor(scene, sensor)
    spp, seed = check_spp_seed(sensor_obj, spp, seed)
    if params is not None and hasattr(params, "flush"):
        params.flush()
    launch_primal(scene, sensor_obj, spp, seed)
    return develop(sensor_obj)
