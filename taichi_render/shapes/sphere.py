"""Analytic sphere (Mitsuba's ``sphere``).

============  =========  ======================================================================
Parameter     Type       Description
============  =========  ======================================================================
center        point      Center in object space. Default (0, 0, 0).
radius        float      Radius (> 0) in object space. Default 1.
to_world      transform  Maps the sphere; it may rotate, translate and scale uniformly. Shear or
                         non-uniform scale is an error (Mitsuba only warns and then renders
                         something else).
flip_normals, ...        See `shapes.mesh` (shared by every shape).
bsdf, emitter
============  =========  ======================================================================

As in Mitsuba, the sphere is the unit sphere mapped by
``to_world @ translate(center) @ scale(radius)``; that matrix is split (polar decomposition) into
a rotation ``Q``, a uniform scale ``r`` and a translation ``T``. A mirroring ``to_world``
(negative determinant) gives a negative scale, which flips the normals (Mitsuba's rule).

Exposes ``center`` (``np.ndarray (3,) float64``, world space), ``radius`` (float, world space),
``to_world`` (``(4, 4) float64``, the rebuilt ``T @ Q @ scale(r)``: the uv parameterization
``(phi / 2 pi, theta / pi)`` is taken in its local frame), ``flip_normals``, ``bsdf``, ``emitter``.

Example::

    tr.load_dict({"type": "sphere", "center": [0, 1, 0], "radius": 0.5,
                  "bsdf": {"type": "dielectric"}})
"""

from __future__ import annotations

import math

import numpy as np

from ..core.registry import Plugin, register
from .mesh import read_shape_common

_UNIFORM_TOLERANCE = 1e-4  # relative


@register("shape", "sphere")
class Sphere(Plugin):
    """Analytic sphere; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_shape_common(self, props)
        center = props.get_point3("center", (0.0, 0.0, 0.0))
        radius = props.get_float("radius", 1.0)
        if not np.all(np.isfinite(center)):
            props.error("'center' must be finite", "center")
        if not math.isfinite(radius) or radius <= 0.0:
            props.error(f"'radius' must be a finite value > 0, got {radius}", "radius")

        m = self.to_world.copy()
        m[:3, 3] = m[:3, :3] @ center + m[:3, 3]
        m[:3, :3] = m[:3, :3] * radius
        u, s, vt = np.linalg.svd(m[:3, :3])
        rotation = u @ vt
        stretch = vt.T @ np.diag(s) @ vt  # m[:3, :3] = rotation @ stretch
        if np.linalg.det(rotation) < 0:
            rotation, stretch = -rotation, -stretch
        scale = float(np.mean(np.diag(stretch)))
        if scale == 0.0 or np.max(np.abs(stretch - scale * np.eye(3))) > _UNIFORM_TOLERANCE * abs(
            scale
        ):
            props.error(
                "'to_world' must be a rotation, translation and uniform scale (no shear, no "
                f"non-uniform or zero scale); its linear part has singular values {s.tolist()}",
                "to_world",
            )
        if scale < 0.0:
            scale = -scale
            self.flip_normals = not self.flip_normals
        self.center = m[:3, 3].copy()
        self.radius = scale
        self.to_world = np.eye(4)
        self.to_world[:3, :3] = rotation * scale
        self.to_world[:3, 3] = self.center

    def surface_area(self) -> float:
        return 4.0 * math.pi * self.radius**2
