"""Stanford PLY mesh (Mitsuba's ``ply``), read with ``plyfile`` (ASCII and binary).

============  =========  ====================================================================
Parameter     Type       Description
============  =========  ====================================================================
filename      string     The ``.ply`` file. Required.
face_normals  bool       Drop vertex normals, shade with flat face normals. Default false.
flip_normals, ...        See `shapes.mesh` (shared by every shape).
to_world,
bsdf, emitter
============  =========  ====================================================================

Vertex properties read: ``x y z`` (required), ``nx ny nz`` (all three, optional; otherwise smooth
normals are computed), texture coordinates from ``u v``, ``texture_u texture_v``, ``s t`` or
``texture_s texture_t`` (first pair found; no flip, as Mitsuba). Faces: the list property
``vertex_indices`` or ``vertex_index``; polygons are fan-triangulated from their first corner.
Other elements and properties are ignored.

Exposes the `Mesh` attributes and ``filename``.

Example::

    tr.load_dict({"type": "ply", "filename": "bunny.ply",
                  "to_world": tr.ScalarTransform4f.scale(10.0)})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import register
from .mesh import Mesh

_UV_NAMES = (("u", "v"), ("texture_u", "texture_v"), ("s", "t"), ("texture_s", "texture_t"))


class PlyReadError(Exception):
    """A PLY file that cannot be used as a triangle mesh (message names the file)."""


def _fan(polygons, n_vertices: int, path: str) -> np.ndarray:
    """Face index lists -> (F, 3) int64 triangles (fan from the first corner)."""
    try:
        stacked = np.array(polygons.tolist(), dtype=np.int64)
    except (ValueError, TypeError):
        stacked = None
    if stacked is not None and stacked.ndim == 2 and stacked.shape[1] == 3:
        return stacked
    out = []
    for i, poly in enumerate(polygons):
        poly = np.asarray(poly, dtype=np.int64)
        if poly.size < 3:
            raise PlyReadError(f"{path}: face {i} has {poly.size} corners (at least 3 needed)")
        out.extend((poly[0], poly[k - 1], poly[k]) for k in range(2, poly.size))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def read_ply(path: str):
    """Parse a PLY file -> ``(positions (N, 3), faces (F, 3) int64, normals | None,
    texcoords | None)``, float64, object space. Raises `PlyReadError` or `OSError`."""
    from plyfile import PlyData, PlyParseError

    try:
        ply = PlyData.read(path)
    except PlyParseError as exc:
        raise PlyReadError(f"{path}: {exc}") from None
    except (ValueError, EOFError) as exc:
        raise PlyReadError(f"{path}: malformed PLY data ({exc})") from None
    names = [el.name for el in ply.elements]
    if "vertex" not in names or "face" not in names:
        raise PlyReadError(f"{path}: needs 'vertex' and 'face' elements, found {names}")
    vertex, face = ply["vertex"], ply["face"]
    props = vertex.data.dtype.names or ()
    missing = [c for c in "xyz" if c not in props]
    if missing:
        raise PlyReadError(f"{path}: vertex property {missing[0]!r} not found")

    def columns(*cols):
        return np.stack([np.asarray(vertex[c], dtype=np.float64) for c in cols], axis=1)

    positions = columns("x", "y", "z")
    normals = columns("nx", "ny", "nz") if all(c in props for c in ("nx", "ny", "nz")) else None
    texcoords = None
    for u, v in _UV_NAMES:
        if u in props and v in props:
            texcoords = columns(u, v)
            break
    face_props = face.data.dtype.names or ()
    key = next((k for k in ("vertex_indices", "vertex_index") if k in face_props), None)
    if key is None:
        raise PlyReadError(f"{path}: face property 'vertex_indices'/'vertex_index' not found")
    faces = _fan(face[key], positions.shape[0], path)
    return positions, faces, normals, texcoords


@register("shape", "ply")
class PLYMesh(Mesh):
    """Mesh read from a PLY file; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.filename = props.get_string("filename")
        try:
            positions, faces, normals, texcoords = read_ply(self.filename)
        except PlyReadError as exc:
            props.error(str(exc), "filename")
        except OSError as exc:
            props.error(f"could not read PLY file '{self.filename}': {exc}", "filename")
        self._set_geometry(props, positions, faces, normals, texcoords, source=self.filename)
