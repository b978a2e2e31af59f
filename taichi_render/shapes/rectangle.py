"""Rectangle (Mitsuba's ``rectangle``): the square [-1, 1]^2 at z = 0, normal +z, as a 2-triangle
mesh mapped by ``to_world``.

============  =========  ======================================================================
Parameter     Type       Description
============  =========  ======================================================================
to_world,     ...        See `shapes.mesh` (shared by every shape). ``face_normals`` is
flip_normals,            accepted (the rectangle is flat either way).
bsdf, emitter
============  =========  ======================================================================

Object-space layout (Mitsuba's parameterization ``uv = (x, y) / 2 + 1/2``):
vertices (-1,-1,0), (1,-1,0), (1,1,0), (-1,1,0); texcoords (0,0), (1,0), (1,1), (0,1);
normals +z; faces (0,1,2), (2,3,0) (counter-clockwise seen from +z).

Mitsuba's rectangle is an analytic shape whose ``flip_normals`` multiplies ``to_world`` by
``scale(1, 1, -1)``; here ``to_world`` is kept as given and ``flip_normals`` is left to the
renderer (same surface, same flipped normal).

Exposes the `Mesh` attributes.

Example::

    tr.load_dict({"type": "rectangle",
                  "to_world": tr.ScalarTransform4f.translate([0, 0.99, 0]).rotate([1, 0, 0], 90),
                  "emitter": {"type": "area", "radiance": [18.4, 14.0, 6.75]}})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import register
from .mesh import Mesh

POSITIONS = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=np.float64)
TEXCOORDS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
NORMALS = np.array([[0, 0, 1]] * 4, dtype=np.float64)
FACES = np.array([[0, 1, 2], [2, 3, 0]], dtype=np.int64)


@register("shape", "rectangle")
class Rectangle(Mesh):
    """Unit square mesh; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self._set_geometry(props, POSITIONS, FACES, NORMALS, TEXCOORDS, compute_normals=False)
