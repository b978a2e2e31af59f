"""Cube (Mitsuba's ``cube``): the box [-1, 1]^3 as a 24-vertex, 12-triangle mesh mapped by
``to_world``.

============  =========  ======================================================================
Parameter     Type       Description
============  =========  ======================================================================
to_world,     ...        See `shapes.mesh` (shared by every shape).
flip_normals,
face_normals,
bsdf, emitter
============  =========  ======================================================================

The layout is Mitsuba's (``src/shapes/cube.cpp``): 4 vertices per face with flat outward normals,
faces in the order -y, +y, +x, +z, -x, -z; every face maps onto [0, 1]^2 in uv with corner
texcoords (0,1), (1,1), (1,0), (0,0); triangles (4f, 4f+1, 4f+2) and (4f+3, 4f, 4f+2).

Exposes the `Mesh` attributes.

Example::

    tr.load_dict({"type": "cube",
                  "to_world": tr.ScalarTransform4f.translate([0.33, -0.7, 0.38]).scale(0.3)})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import register
from .mesh import Mesh

# fmt: off
POSITIONS = np.array(
    [
        [1, -1, -1], [1, -1, 1], [-1, -1, 1], [-1, -1, -1],  # -y
        [1, 1, -1], [-1, 1, -1], [-1, 1, 1], [1, 1, 1],  # +y
        [1, -1, -1], [1, 1, -1], [1, 1, 1], [1, -1, 1],  # +x
        [1, -1, 1], [1, 1, 1], [-1, 1, 1], [-1, -1, 1],  # +z
        [-1, -1, 1], [-1, 1, 1], [-1, 1, -1], [-1, -1, -1],  # -x
        [1, 1, -1], [1, -1, -1], [-1, -1, -1], [-1, 1, -1],  # -z
    ],
    dtype=np.float64,
)
# fmt: on
NORMALS = np.repeat(
    np.array([[0, -1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [-1, 0, 0], [0, 0, -1]], np.float64),
    4,
    axis=0,
)
TEXCOORDS = np.tile(np.array([[0, 1], [1, 1], [1, 0], [0, 0]], dtype=np.float64), (6, 1))
FACES = np.concatenate([np.array([[0, 1, 2], [3, 0, 2]]) + 4 * f for f in range(6)]).astype(
    np.int64
)


@register("shape", "cube")
class Cube(Mesh):
    """Unit cube mesh; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self._set_geometry(props, POSITIONS, FACES, NORMALS, TEXCOORDS, compute_normals=False)
