"""The mesh panel of the preview: the current mesh in 3D, next to the renders.

One orthographic view serves every backend:

- GGUI backends (window, off-screen) draw the mesh with GGUI's 3D scene (``scene.mesh`` with
  vertex normals, a point light and ambient light) into the panel's rectangle of the window. A GGUI
  scene covers the whole window and cannot be given a viewport, so the camera is orthographic
  with an off-centre frustum (``camera.left/right/top/bottom``) chosen so that the mesh's bounding
  sphere lands inside the panel; the composed frame leaves the panel blank for it.
- without GGUI (notebook, frames) :func:`rasterize` draws the same view in numpy: a z-buffer of
  flat-shaded triangles, vectorised over triangles (a 5k-triangle mesh at 256 x 256 takes a few
  tens of milliseconds; the preview throttles redraws anyway).

The optional target mesh is drawn as its silhouette (the edges between front- and back-facing
triangles, and open borders), always on top, so the current mesh can be compared with it.

Meshes are ``(vertices, faces)``: vertices (V, 3) or flat (3V,) floats, faces (F, 3) or flat
(3F,) integers, each a numpy array, torch tensor, Taichi field or ndarray (see :func:`as_mesh`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUND = np.array([34, 34, 40], np.uint8)  # panel background (a shade off the canvas)
MESH_COLOR = (0.85, 0.62, 0.42)  # clay
OUTLINE = np.array([90, 210, 255], np.uint8)  # target silhouette
AMBIENT = 0.22
MARGIN = 0.92  # bounding sphere radius / half the panel side
LIGHT = np.array([-0.45, 0.65, 0.6])  # in view space: left, up, toward the viewer


def _numpy(x, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if type(x).__module__.split(".")[0] == "torch":
        return x.detach().cpu().numpy()
    to_numpy = getattr(x, "to_numpy", None)
    if callable(to_numpy):
        return to_numpy()
    try:
        return np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - report what could not be read
        raise ValueError(f"{name}: cannot read {type(x).__name__} as an array ({exc})") from None


def as_mesh(mesh, name: str = "mesh", faces=None) -> tuple[np.ndarray, np.ndarray]:
    """Validate `mesh` = ``(vertices, faces)`` -> (vertices (V, 3) float32, faces (F, 3) int32).

    `mesh` may also be the vertices alone when `faces` (the faces of an earlier mesh) is given.
    Raises ValueError naming `name` for a wrong shape or type, an empty mesh or a face index
    outside ``[0, V)``. Non-finite vertices are allowed (their triangles are not drawn)."""
    if isinstance(mesh, (tuple, list)) and len(mesh) == 2:
        vertices, faces = mesh
        faces_name = f"{name} faces"
    elif isinstance(mesh, (tuple, list)):
        raise ValueError(f"{name} must be (vertices, faces) or the vertices alone, got a "
                         f"{type(mesh).__name__} of {len(mesh)} items")
    else:
        vertices = mesh
        faces_name = f"{name} faces (from the previous mesh)"
        if faces is None:
            raise ValueError(f"{name}: vertices alone need faces from an earlier update; pass "
                             f"{name}=(vertices, faces) first")
    v = _numpy(vertices, f"{name} vertices")
    f = _numpy(faces, faces_name)
    if v.dtype.kind not in "fiu":
        raise ValueError(f"{name} vertices must be numbers, got dtype {v.dtype}")
    if v.ndim == 1 and v.size % 3 == 0:
        v = v.reshape(-1, 3)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] == 0:
        raise ValueError(f"{name} vertices must have shape (V, 3) or (3V,) with V > 0, got "
                         f"{tuple(v.shape)}")
    if f.dtype.kind not in "iu":
        raise ValueError(f"{name} faces must be integers, got dtype {f.dtype}")
    if f.ndim == 1 and f.size % 3 == 0:
        f = f.reshape(-1, 3)
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0:
        raise ValueError(f"{faces_name} must have shape (F, 3) or (3F,) with F > 0, got "
                         f"{tuple(f.shape)}")
    lo, hi = int(f.min()), int(f.max())
    if lo < 0 or hi >= v.shape[0]:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{faces_name} index {bad} is out of range for {v.shape[0]} vertices")
    return np.ascontiguousarray(v, np.float32), np.ascontiguousarray(f, np.int32)


def face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Unnormalised face normals (area-weighted), (F, 3) float64."""
    p = v.astype(np.float64)[f]
    return np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])


def vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, (V, 3) float32 (zero for unused or degenerate vertices)."""
    fn = np.nan_to_num(face_normals(v, f))
    n = np.zeros((v.shape[0], 3))
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.maximum(length, 1e-30)).astype(np.float32)


@dataclass
class View:
    """An orthographic view of the panel: camera basis, centre and world units per pixel."""

    center: np.ndarray  # (3,) the point at the panel's centre
    right: np.ndarray  # (3,) unit vectors of the camera frame
    up: np.ndarray
    back: np.ndarray  # from the centre toward the camera
    radius: float  # bounding sphere radius about `center`
    side: int  # panel side in pixels

    @property
    def pixel(self) -> float:
        """World units per pixel."""
        return self.radius / (MARGIN * self.side / 2.0)

    def project(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Panel pixel coordinates (x right, y down, from the top-left corner) and depth (larger
        is farther) of points (N, 3)."""
        d = p.astype(np.float64) - self.center
        s = self.pixel
        x = self.side / 2.0 + d @ self.right / s
        y = self.side / 2.0 - d @ self.up / s
        return x, y, -(d @ self.back)

    def light(self) -> np.ndarray:
        """Unit light direction in world space (fixed in view space: the light orbits along)."""
        d = LIGHT[0] * self.right + LIGHT[1] * self.up + LIGHT[2] * self.back
        return d / np.linalg.norm(d)


class MeshCamera:
    """Where the panel looks: at the first meshes' bounding sphere, orbiting about +y by
    `orbit` degrees per frame at `elevation` degrees. The centre stays put and the radius only
    grows, so a mesh that shrinks or moves is seen to do so (and never leaves the panel)."""

    def __init__(self, orbit: float = 2.0, elevation: float = 20.0, azimuth: float = 30.0) -> None:
        self.orbit, self.elevation, self.azimuth = float(orbit), float(elevation), float(azimuth)
        self.center: np.ndarray | None = None
        self.radius = 0.0

    def view(self, meshes: list[np.ndarray], frame: int, side: int) -> View:
        pts = np.concatenate([v[np.all(np.isfinite(v), axis=1)] for v in meshes]).astype(np.float64)
        if self.center is None and len(pts):
            self.center = 0.5 * (pts.min(axis=0) + pts.max(axis=0))
        center = self.center if self.center is not None else np.zeros(3)
        if len(pts):
            self.radius = max(self.radius, float(np.linalg.norm(pts - center, axis=1).max()))
        radius = self.radius if self.radius > 0 else 1.0
        a = np.radians(self.azimuth + self.orbit * frame)
        e = np.radians(self.elevation)
        back = np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
        right = np.cross([0.0, 1.0, 0.0], back)
        right /= np.linalg.norm(right)
        up = np.cross(back, right)
        return View(center, right, up, back, radius, side)


# ---- silhouettes ----


def silhouette(v: np.ndarray, f: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Silhouette edges of a mesh seen along -`back` (orthographic): edges shared by a front- and
    a back-facing triangle, and open borders of front-facing ones. Returns (E, 2, 3) points."""
    facing = face_normals(v, f) @ back > 0
    edges = np.sort(np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1).reshape(-1, 2),
                    axis=1)
    face_of = np.repeat(np.arange(len(f)), 3)
    key = edges[:, 0].astype(np.int64) * (int(v.shape[0]) + 1) + edges[:, 1]
    order = np.argsort(key, kind="stable")
    key, edges, face_of = key[order], edges[order], face_of[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[starts, len(key)])
    front = np.add.reduceat(facing[face_of].astype(np.int64), starts)
    keep = np.where(counts == 1, front == 1, (front > 0) & (front < counts))
    return v[edges[starts[keep]]]


# ---- numpy rasterisation (backends without GGUI) ----


def rasterize(view: View, v: np.ndarray, f: np.ndarray, color=MESH_COLOR,
              outline: np.ndarray | None = None) -> np.ndarray:
    """The panel drawn in numpy: (side, side, 3) uint8, flat-shaded triangles over the panel
    background, then the `outline` segments (E, 2, 3) on top."""
    side = view.side
    img = np.empty((side, side, 3), np.uint8)
    img[:] = BACKGROUND
    x, y, depth = view.project(v)
    tx, ty, tz = x[f], y[f], depth[f]  # (F, 3)
    fn = face_normals(v, f)
    length = np.linalg.norm(fn, axis=1)
    ok = np.all(np.isfinite(tx) & np.isfinite(ty) & np.isfinite(tz), axis=1) & (length > 0)
    area = (tx[:, 1] - tx[:, 0]) * (ty[:, 2] - ty[:, 0]) - (tx[:, 2] - tx[:, 0]) * (ty[:, 1] - ty[:, 0])
    ok &= np.abs(area) > 1e-12
    n = fn / np.maximum(length, 1e-30)[:, None]
    n *= np.where(n @ view.back < 0, -1.0, 1.0)[:, None]  # two-sided: face the viewer
    shade = AMBIENT + (1.0 - AMBIENT) * np.clip(n @ view.light(), 0.0, 1.0)
    face_rgb = np.clip(np.outer(shade, color) * 255.0, 0, 255).astype(np.uint8)
    ids = np.flatnonzero(ok)
    x0 = np.clip(np.floor(tx[ids].min(axis=1) - 0.5), 0, side).astype(np.int64)
    x1 = np.clip(np.ceil(tx[ids].max(axis=1) - 0.5), -1, side - 1).astype(np.int64)
    y0 = np.clip(np.floor(ty[ids].min(axis=1) - 0.5), 0, side).astype(np.int64)
    y1 = np.clip(np.ceil(ty[ids].max(axis=1) - 0.5), -1, side - 1).astype(np.int64)
    extent = np.maximum(x1 - x0, y1 - y0) + 1
    visible = (x1 >= x0) & (y1 >= y0)
    ids, x0, y0, extent = ids[visible], x0[visible], y0[visible], extent[visible]
    pix, dep, tri = [], [], []
    size = 1
    while len(ids):  # triangles grouped by bounding-box size: k x k candidate pixels each
        group = extent <= size
        if group.any():
            chunk = max(1, 2_000_000 // (size * size))
            g_ids, g_x0, g_y0 = ids[group], x0[group], y0[group]
            oy, ox = np.divmod(np.arange(size * size), size)
            for s in range(0, len(g_ids), chunk):
                t = g_ids[s:s + chunk]
                px = g_x0[s:s + chunk, None] + ox[None, :]
                py = g_y0[s:s + chunk, None] + oy[None, :]
                cx, cy = px + 0.5, py + 0.5  # pixel centres
                ax, ay, az = (tx[t, 0:1], ty[t, 0:1], tz[t, 0:1])
                bx, by, bz = (tx[t, 1:2], ty[t, 1:2], tz[t, 1:2])
                qx, qy, qz = (tx[t, 2:3], ty[t, 2:3], tz[t, 2:3])
                inv = 1.0 / area[t, None]
                w1 = ((cx - ax) * (qy - ay) - (qx - ax) * (cy - ay)) * inv
                w2 = ((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)) * inv
                w0 = 1.0 - w1 - w2
                inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (px < side) & (py < side)
                z = w0 * az + w1 * bz + w2 * qz
                r, c = np.nonzero(inside)
                pix.append(py[r, c] * side + px[r, c])
                dep.append(z[r, c])
                tri.append(t[r])
            ids, x0, y0, extent = ids[~group], x0[~group], y0[~group], extent[~group]
        size *= 2
    if pix:
        pix, dep, tri = np.concatenate(pix), np.concatenate(dep), np.concatenate(tri)
        order = np.lexsort((dep, pix))  # by pixel, nearest first
        first = np.r_[True, pix[order][1:] != pix[order][:-1]]
        win = order[first]
        img.reshape(-1, 3)[pix[win]] = face_rgb[tri[win]]
    if outline is not None and len(outline):
        draw_segments(img, view, outline, OUTLINE)
    return img


def draw_segments(img: np.ndarray, view: View, segments: np.ndarray, color: np.ndarray) -> None:
    """Draw 3D segments (E, 2, 3) into `img` (in place), one pixel wide, no depth test."""
    x, y, _ = view.project(segments.reshape(-1, 3))
    x, y = x.reshape(-1, 2), y.reshape(-1, 2)
    ok = np.all(np.isfinite(x) & np.isfinite(y), axis=1)
    x, y = x[ok], y[ok]
    steps = np.ceil(np.maximum(np.abs(x[:, 1] - x[:, 0]), np.abs(y[:, 1] - y[:, 0]))).astype(
        np.int64) + 1
    seg = np.repeat(np.arange(len(x)), steps)
    t = (np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)) / np.maximum(
        np.repeat(steps - 1, steps), 1)
    px = np.floor(x[seg, 0] + t * (x[seg, 1] - x[seg, 0])).astype(np.int64)
    py = np.floor(y[seg, 0] + t * (y[seg, 1] - y[seg, 0])).astype(np.int64)
    side_y, side_x = img.shape[:2]
    inside = (px >= 0) & (px < side_x) & (py >= 0) & (py < side_y)
    img[py[inside], px[inside]] = color


# ---- what a view needs to draw one panel ----


@dataclass
class MeshDrawing:
    """One frame's mesh panel: the view, the meshes, and where the panel sits in the frame
    (``rect`` = x, y, width, height in frame pixels, y down from the top)."""

    view: View
    vertices: np.ndarray  # (V, 3) float32
    faces: np.ndarray  # (F, 3) int32
    outline: np.ndarray | None  # (E, 2, 3) target silhouette or None
    rect: tuple[int, int, int, int]
    target_faces: np.ndarray | None = None  # the target's faces (3F bounds the outline's points)

    def rasterize(self) -> np.ndarray:
        return rasterize(self.view, self.vertices, self.faces, outline=self.outline)

    def paint_into(self, frame: np.ndarray) -> None:
        x, y, w, h = self.rect
        frame[y:y + h, x:x + w] = self.rasterize()
