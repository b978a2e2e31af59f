"""Wavefront OBJ mesh (Mitsuba's ``obj``), with its own small reader.

===============  =========  ===================================================================
Parameter        Type       Description
===============  =========  ===================================================================
filename         string     The ``.obj`` file. Required.
face_normals     bool       Drop vertex normals, shade with flat face normals. Default false.
flip_tex_coords  bool       Use ``v -> 1 - v`` on the file's texture coordinates (most OBJ
                            files put v = 0 at the bottom of the image). Default true, as Mitsuba.
flip_normals,    ...        See `shapes.mesh` (shared by every shape).
to_world, bsdf,
emitter
===============  =========  ===================================================================

Reads ``v``, ``vt``, ``vn`` and ``f`` statements (other statements such as ``o``, ``g``,
``usemtl`` are ignored). Faces may have any number of corners (fan-triangulated from the first
corner, as Mitsuba), corners ``v``, ``v/vt``, ``v//vn`` or ``v/vt/vn``, and negative (relative)
indices. Each distinct ``(v, vt, vn)`` corner triple becomes one mesh vertex, numbered in order of
first appearance (Mitsuba's de-duplication). Without ``vn`` lines, smooth normals are computed
(see `shapes.mesh`). Errors name ``file:line``.

Exposes the `Mesh` attributes and ``filename``.

Example::

    tr.load_dict({"type": "obj", "filename": "bunny.obj", "face_normals": True,
                  "bsdf": {"type": "diffuse"}})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import register
from .mesh import Mesh, smooth_vertex_normals, transform_normals, transform_points


class ObjParseError(Exception):
    """A malformed OBJ line; the message is ``file:line: what``."""


def _floats(tokens, count: int, what: str, where: str) -> list[float]:
    if len(tokens) < count:
        raise ObjParseError(f"{where}: '{what}' needs {count} numbers, got {len(tokens)}")
    try:
        return [float(t) for t in tokens[:count]]
    except ValueError:
        raise ObjParseError(f"{where}: could not parse {what!r} values {tokens[:count]}") from None


def _index(token: str, count: int, what: str, where: str) -> int:
    """1-based or negative OBJ index -> 0-based index into a list of ``count`` items."""
    try:
        i = int(token)
    except ValueError:
        raise ObjParseError(f"{where}: invalid {what} index {token!r}") from None
    j = i - 1 if i > 0 else count + i
    if i == 0 or not 0 <= j < count:
        raise ObjParseError(f"{where}: {what} index {i} out of range (1..{count} defined so far)")
    return j


def read_obj(path: str, flip_tex_coords: bool = True):
    """Parse an OBJ file.

    Returns ``(positions (N, 3), faces (F, 3) int64, normals (N, 3) | None, texcoords (N, 2) |
    None)`` in object space, float64, after per-corner de-duplication. Corners without a normal
    (when the file has some) get NaN normals, filled in by the caller. Raises `ObjParseError`
    (``file:line: ...``) or `OSError`.
    """
    v, vt, vn = [], [], []
    corner_ids: dict[tuple[int, int, int], int] = {}
    corners: list[tuple[int, int, int]] = []
    triangles: list[tuple[int, int, int]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            tag, args, where = tokens[0], tokens[1:], f"{path}:{lineno}"
            if tag == "v":
                v.append(_floats(args, 3, "v", where))
            elif tag == "vt":
                vt.append(_floats(args, 2, "vt", where))
            elif tag == "vn":
                vn.append(_floats(args, 3, "vn", where))
            elif tag == "f":
                if len(args) < 3:
                    raise ObjParseError(f"{where}: a face needs at least 3 corners")
                ids = []
                for corner in args:
                    parts = corner.split("/")
                    if len(parts) > 3 or parts[0] == "":
                        raise ObjParseError(f"{where}: invalid face corner {corner!r}")
                    key = (
                        _index(parts[0], len(v), "vertex", where) + 1,
                        _index(parts[1], len(vt), "texcoord", where) + 1
                        if len(parts) > 1 and parts[1]
                        else 0,
                        _index(parts[2], len(vn), "normal", where) + 1
                        if len(parts) > 2 and parts[2]
                        else 0,
                    )
                    cid = corner_ids.get(key)
                    if cid is None:
                        cid = corner_ids[key] = len(corners)
                        corners.append(key)
                    ids.append(cid)
                for k in range(2, len(ids)):
                    triangles.append((ids[0], ids[k - 1], ids[k]))
    if not triangles:
        raise ObjParseError(f"{path}: the file has no faces")
    keys = np.array(corners, dtype=np.int64)
    positions = np.array(v, dtype=np.float64)[keys[:, 0] - 1]
    texcoords = normals = None
    if vt:
        table = np.vstack([np.zeros((1, 2)), np.array(vt, dtype=np.float64)])
        texcoords = table[keys[:, 1]]
        if flip_tex_coords:
            texcoords[:, 1] = 1.0 - texcoords[:, 1]
    if vn:
        table = np.vstack([np.full((1, 3), np.nan), np.array(vn, dtype=np.float64)])
        normals = table[keys[:, 2]]
    return positions, np.array(triangles, dtype=np.int64), normals, texcoords


@register("shape", "obj")
class OBJMesh(Mesh):
    """Mesh read from a Wavefront OBJ file; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.filename = props.get_string("filename")
        flip = props.get_bool("flip_tex_coords", True)
        try:
            positions, faces, normals, texcoords = read_obj(self.filename, flip)
        except ObjParseError as exc:
            props.error(str(exc), "filename")
        except OSError as exc:
            props.error(f"could not read OBJ file '{self.filename}': {exc}", "filename")
        if normals is not None and np.isnan(normals).any():
            # Some corners have no 'vn': give them computed smooth normals (world -> object,
            # i.e. by the transpose of to_world); all of them if to_world is singular.
            missing = np.isnan(normals[:, 0])
            smooth = smooth_vertex_normals(transform_points(self.to_world, positions), faces)
            if np.linalg.det(self.to_world[:3, :3]) != 0.0:
                normals[missing] = transform_normals(np.linalg.inv(self.to_world), smooth[missing])
            else:
                normals = None
        self._set_geometry(props, positions, faces, normals, texcoords, source=self.filename)
