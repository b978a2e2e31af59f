"""Analytic disk (Mitsuba's ``disk``): the unit disk x^2 + y^2 <= 1 at z = 0, normal +z, mapped
by ``to_world``.

============  =========  ======================================================================
Parameter     Type       Description
============  =========  ======================================================================
to_world      transform  Linear object-to-world map (non-uniform scale gives an ellipse). Its
                         x and y axes must not be parallel or zero.
flip_normals, ...        See `shapes.mesh` (shared by every shape).
bsdf, emitter
============  =========  ======================================================================

uv parameterization (Mitsuba's): ``u = r``, ``v = phi / (2 pi)`` in the local frame.

Exposes ``to_world`` (``np.ndarray (4, 4) float64``), ``center`` and ``normal``
(``np.ndarray (3,) float64``, world space; the normal is the unflipped local +z transformed by the
inverse transpose, unit length), ``flip_normals``, ``bsdf``, ``emitter``.

Example::

    tr.load_dict({"type": "disk",
                  "to_world": tr.ScalarTransform4f.translate([0, 1, 0]).rotate([1, 0, 0], 90),
                  "emitter": {"type": "area", "radiance": 5.0}})
"""

from __future__ import annotations

import math

import numpy as np

from ..core.registry import Plugin, register
from .mesh import read_shape_common


@register("shape", "disk")
class Disk(Plugin):
    """Analytic disk; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_shape_common(self, props)
        dp_du, dp_dv = self.to_world[:3, 0], self.to_world[:3, 1]
        n = np.cross(dp_du, dp_dv)
        if not np.linalg.norm(n) > 0.0:
            props.error(
                "'to_world' collapses the disk (its x and y axes are parallel or zero)", "to_world"
            )
        self.center = self.to_world[:3, 3].copy()
        if abs(np.linalg.det(self.to_world[:3, :3])) > 0.0:
            n = np.linalg.inv(self.to_world[:3, :3]).T @ np.array([0.0, 0.0, 1.0])
        self.normal = n / np.linalg.norm(n)

    def surface_area(self) -> float:
        """World-space area: pi * |dp/dx x dp/dy|."""
        return math.pi * float(np.linalg.norm(np.cross(self.to_world[:3, 0], self.to_world[:3, 1])))
