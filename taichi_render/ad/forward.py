"""Forward mode: the derivative image d(image)/d(params[key]) along a tangent."""

from __future__ import annotations

import numpy as np
import taichi as ti

from ..backend import ensure_init
from ..render import layout as L
from ..render.renderer import check_spp_seed, get_sensor, render_forward_tangents, scene_data
from ..shapes.vertex_normals import smooth_vertex_normals_jvp


def render_forward(scene, params, key: str, tangent=None, spp=None, seed: int = 0, sensor=0) -> ti.Field:
    """Forward-mode gradient image of ``params[key]`` (Mitsuba's ``dr.forward`` on a render).

    Args:
        scene: a loaded scene.
        params: its ``tr.traverse(scene)`` parameters.
        key: a differentiable key: texture values (e.g. ``"red.reflectance.value"``), a mesh's
            ``vertex_positions`` or a point light's ``position`` (interior derivatives, and
            boundary terms under the projective integrators).
        tangent: direction in parameter space, same shape as ``params[key]`` (default: ones).
        spp: samples per pixel (default: the sensor's sampler).
        seed: seed of the samples; the same seed gives the same derivative image.
    Returns a ``ti.Vector.field(3, ti.f32)`` of shape (height, width) owned by the sensor.
    """
    ensure_init()
    params.flush()
    tex = params._gradient_texture(key)
    shape = params[key].shape
    t = np.ones(shape, np.float32) if tangent is None else np.asarray(tangent, np.float32)
    if t.shape != shape:
        if t.size != np.prod(shape):
            raise ValueError(f"tangent for {key!r} must have shape {shape}, got {t.shape}")
        t = t.reshape(shape)
    if not np.isfinite(t).all():
        raise ValueError(f"tangent for {key!r} contains NaN or inf")
    sensor_obj = get_sensor(scene, sensor)
    spp, seed = check_spp_seed(sensor_obj, spp, seed)
    data = scene_data(scene)
    if key.endswith(".vertex_positions"):
        shape_plugin = tex
        offset = data.vertex_rows()  # positions, then the vertex normals that follow them
        tangents = {"vtx": np.zeros((2 * offset, 3), np.float32), "emitter": _emitter_rows(data)}
        tv = t.reshape(-1, 3)
        rows = data.shape_vertices(shape_plugin)
        tangents["vtx"][rows] = tv
        if getattr(shape_plugin, "vertex_normals", None) is not None:
            tangents["vtx"][rows.start + offset : rows.stop + offset] = smooth_vertex_normals_jvp(
                shape_plugin.vertex_positions, shape_plugin.faces, tv)
        e = data.emitter_of_shape.get(id(shape_plugin))
        if e is not None:
            tangents["emitter"][e, L.ED_AREA] = float(np.sum(data.area_gradient(shape_plugin) * tv))
    elif params._is_light_position(key):
        tangents = {"emitter": _emitter_rows(data)}
        row = data.emitter_row(tex)
        if row is not None:
            tangents["emitter"][row, L.ED_POSITION : L.ED_POSITION + 3] = t.reshape(3)
    else:
        tangents = {name: np.zeros_like(data.np[name]) for name in ("tex_rgb", "texels")}
        name, rows, packed_shape = data.texture_slot(tex)
        if len(packed_shape) == 3 and t.shape[-1] == 1:
            t = np.repeat(t, 3, axis=-1)  # single-channel bitmaps are packed as RGB
        tangents[name][rows] = t.reshape(-1, 3)
    return render_forward_tangents(scene, sensor_obj, tangents, spp, seed)


def _emitter_rows(data) -> np.ndarray:
    """Zero tangents of the emitter rows, (E, L.ED_WIDTH) float32."""
    return np.zeros((max(len(data.np["em_i"]), 1), L.ED_WIDTH), np.float32)
