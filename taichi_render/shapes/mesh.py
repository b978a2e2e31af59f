"""Triangle meshes: the `Mesh` base class, and what every shape reads (`read_shape_common`).

Every shape (mesh or analytic) reads:

============  =========  ======================================================================
Parameter     Type       Description
============  =========  ======================================================================
to_world      transform  Object-to-world transform (4x4). Default identity.
flip_normals  bool       Flip the geometric and shading normals (inside becomes front).
                         Default false.
(nested)      bsdf       The surface's BSDF (at most one). Default: a ``diffuse`` BSDF
                         (reflectance 0.5), as in Mitsuba.
(nested)      emitter    An ``area`` emitter turning the shape into a light (at most one; an
                         area emitter belongs to a single shape).
============  =========  ======================================================================

Meshes (``obj``, ``ply``, ``rectangle``, ``cube``) also read ``face_normals`` (bool, default
false: when true, vertex normals are dropped and the flat triangle normal is used) and expose:

- ``vertex_positions``: ``np.ndarray (N, 3) float32``, world space (``to_world`` applied).
- ``vertex_normals``: ``np.ndarray (N, 3) float32`` world space, unit length, transformed by the
  inverse transpose of ``to_world``; or None (``face_normals``). NOT flipped by ``flip_normals``:
  the renderer negates both geometric and shading normals when ``flip_normals`` is set, as
  Mitsuba's ``Mesh`` does.
- ``vertex_texcoords``: ``np.ndarray (N, 2) float32`` or None.
- ``faces``: ``np.ndarray (F, 3) int32``, counter-clockwise around the geometric normal
  ``cross(p1 - p0, p2 - p0)``.
- ``face_normals``, ``flip_normals`` (bool), ``to_world`` (``np.ndarray (4, 4) float64``),
  ``bsdf``, ``emitter`` (plugin or None), ``degenerate_face_count`` (zero-area triangles: allowed,
  they are never hit).

Files without normals get smooth vertex normals computed as Mitsuba's
``recompute_vertex_normals`` does: the sum of adjacent face normals weighted by the corner angle,
normalized; a vertex whose sum vanishes gets (1, 0, 0).
"""

from __future__ import annotations

import numpy as np

from ..core.properties import Properties
from ..core.registry import Plugin, create
from .vertex_normals import smooth_vertex_normals


def _default_bsdf(props):
    """Mitsuba's default BSDF for a shape without one: ``diffuse`` with reflectance 0.5."""
    return create("bsdf", "diffuse", Properties("diffuse", location=props.location, kind="bsdf"))


def read_shape_common(shape, props) -> None:
    """Set ``to_world``, ``flip_normals``, ``bsdf`` and ``emitter`` on ``shape`` from ``props``."""
    shape.to_world = props.get_transform("to_world")
    if not np.all(np.isfinite(shape.to_world)):
        props.error("'to_world' must be finite", "to_world")
    shape.flip_normals = props.get_bool("flip_normals", False)

    bsdfs = props.children("bsdf")
    if len(bsdfs) > 1:
        props.error("a shape takes at most one bsdf", bsdfs[1][0])
    shape.bsdf = bsdfs[0][1] if bsdfs else _default_bsdf(props)

    emitters = props.children("emitter")
    if len(emitters) > 1:
        props.error("a shape takes at most one emitter", emitters[1][0])
    shape.emitter = None
    if emitters:
        name, emitter = emitters[0]
        if emitter.type_name != "area":
            props.error(
                f"only an 'area' emitter can be attached to a shape, got {emitter.type_name!r}",
                name,
            )
        if getattr(emitter, "shape", None) is not None:
            props.error("this area emitter is already attached to another shape", name)
        emitter.shape = shape
        shape.emitter = emitter


def transform_points(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Affine transform of points (N, 3) by a 4x4 matrix (last row ignored, as Mitsuba's
    ``transform_affine``) -> (N, 3) float64."""
    return np.asarray(p, dtype=np.float64) @ m[:3, :3].T + m[:3, 3]


def transform_normals(m: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Normals (N, 3) by the inverse transpose of the 3x3 part of ``m`` (not normalized)."""
    return np.asarray(n, dtype=np.float64) @ np.linalg.inv(m[:3, :3])


class Mesh(Plugin):
    """Base of the triangle-mesh shapes; see the module docstring for the attributes.

    Subclasses call `_set_geometry` with object-space data after ``super().__init__(props)``.
    """

    def __init__(self, props):
        super().__init__(props)
        read_shape_common(self, props)
        self.face_normals = props.get_bool("face_normals", False)
        self.vertex_positions = np.zeros((0, 3), np.float32)
        self.vertex_normals = None
        self.vertex_texcoords = None
        self.faces = np.zeros((0, 3), np.int32)
        self.degenerate_face_count = 0

    @property
    def vertex_count(self) -> int:
        return int(self.vertex_positions.shape[0])

    @property
    def face_count(self) -> int:
        return int(self.faces.shape[0])

    def surface_area(self) -> float:
        """World-space area (float64 sum over triangles)."""
        v = self.vertex_positions.astype(np.float64)[self.faces]
        return float(
            0.5 * np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1).sum()
        )

    def _set_geometry(
        self,
        props,
        positions,
        faces,
        normals=None,
        texcoords=None,
        compute_normals: bool = True,
        source: str = "",
    ) -> None:
        """Validate object-space data, transform it to world space and store it.

        Args:
            positions: (N, 3) object-space vertex positions.
            faces: (F, 3) vertex indices.
            normals: (N, 3) object-space vertex normals or None.
            texcoords: (N, 2) or None.
            compute_normals: when ``normals`` is None (and not ``face_normals``), compute smooth
                normals (file meshes); otherwise leave them None.
            source: prefix for error messages (e.g. the file name).
        """
        where = f"{source}: " if source else ""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        n_vertices = positions.shape[0]
        if faces.shape[0] == 0:
            props.error(f"{where}the mesh has no faces")
        bad = (faces < 0) | (faces >= n_vertices)
        if np.any(bad):
            f = int(np.argwhere(bad)[0][0])
            props.error(
                f"{where}face {f} references vertex {int(faces[f][bad[f]][0])}, but the mesh "
                f"has {n_vertices} vertices"
            )
        world = transform_points(self.to_world, positions)
        if not np.all(np.isfinite(world)):
            props.error(f"{where}the mesh has non-finite vertex positions")
        self.vertex_positions = world.astype(np.float32)
        self.faces = faces.astype(np.int32)

        v = self.vertex_positions.astype(np.float64)[self.faces]
        area2 = np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1)
        self.degenerate_face_count = int(np.count_nonzero(area2 == 0.0))

        self.vertex_normals = None
        if not self.face_normals:
            if normals is not None:
                normals = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
                if normals.shape[0] != n_vertices:
                    props.error(f"{where}{normals.shape[0]} normals for {n_vertices} vertices")
                if abs(np.linalg.det(self.to_world[:3, :3])) == 0.0:
                    props.error("'to_world' is singular: normals cannot be transformed", "to_world")
                n = transform_normals(self.to_world, normals)
                length = np.linalg.norm(n, axis=1, keepdims=True)
                with np.errstate(divide="ignore", invalid="ignore"):
                    n = n / length
                if not np.all(np.isfinite(n)):
                    props.error(f"{where}the mesh has invalid (zero or non-finite) vertex normals")
                self.vertex_normals = n.astype(np.float32)
            elif compute_normals:
                self.vertex_normals = smooth_vertex_normals(world, faces).astype(np.float32)

        self.vertex_texcoords = None
        if texcoords is not None:
            texcoords = np.asarray(texcoords, dtype=np.float64).reshape(-1, 2)
            if texcoords.shape[0] != n_vertices:
                props.error(f"{where}{texcoords.shape[0]} texcoords for {n_vertices} vertices")
            if not np.all(np.isfinite(texcoords)):
                props.error(f"{where}the mesh has non-finite texture coordinates")
            self.vertex_texcoords = texcoords.astype(np.float32)
