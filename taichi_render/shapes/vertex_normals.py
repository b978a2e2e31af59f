"""Smooth vertex normals of a triangle mesh as a function of its vertex positions, and their
derivatives.

The normals are Mitsuba 3's ``Mesh::recompute_vertex_normals``: at each vertex, the sum of the
unit normals of the adjacent faces, each weighted by the face's angle at that corner (Thürmer
and Wüthrich 1998, "Computing Vertex Normals from Polygonal Facets"), normalized. Mitsuba
recomputes them whenever ``vertex_positions`` change (``Mesh::parameters_changed``), and so does
``params.update()`` here; the renderer's gradients with respect to vertex positions include the
part through these normals, by :func:`smooth_vertex_normals_vjp` (reverse mode) and
:func:`smooth_vertex_normals_jvp` (forward mode).

All functions take positions ``(N, 3)`` and faces ``(F, 3)`` int (vertex indices) and work in
float64. A vertex whose weighted sum vanishes (unused, or only degenerate faces) gets the
normal (1, 0, 0) and no derivative.
"""

from __future__ import annotations

import numpy as np


def _corner_terms(p: np.ndarray, faces: np.ndarray):
    """Per face: the edge vectors e1, e2, the cross product c, |c|, the unit normal n; per corner
    i: the edges d0 (to the next corner), d1 (to the one after), their lengths, the cosine u of
    the angle and the angle itself."""
    v = p[faces]  # (F, 3 corners, 3)
    e1 = v[:, 1] - v[:, 0]
    e2 = v[:, 2] - v[:, 0]
    c = np.cross(e1, e2)
    c_len = np.linalg.norm(c, axis=1, keepdims=True)
    n = np.divide(c, c_len, out=np.zeros_like(c), where=c_len > 0)
    corners = []
    for i in range(3):
        d0 = v[:, (i + 1) % 3] - v[:, i]
        d1 = v[:, (i + 2) % 3] - v[:, i]
        l0 = np.linalg.norm(d0, axis=1)
        l1 = np.linalg.norm(d1, axis=1)
        ok = (l0 > 0) & (l1 > 0)
        denom = np.where(ok, l0 * l1, 1.0)
        u = np.clip(np.sum(d0 * d1, axis=1) / denom, -1.0, 1.0)
        corners.append((d0, d1, l0, l1, ok, u, np.arccos(u)))
    return e1, e2, c_len, n, corners


def _weighted_sum(n_vertices: int, faces: np.ndarray, n: np.ndarray, corners) -> np.ndarray:
    acc = np.zeros((n_vertices, 3))
    for i, (_, _, _, _, _, _, angle) in enumerate(corners):
        np.add.at(acc, faces[:, i], n * angle[:, None])
    return acc


def smooth_vertex_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Angle-weighted unit vertex normals -> (N, 3) float64."""
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    _, _, _, n, corners = _corner_terms(p, faces)
    out = _weighted_sum(len(p), faces, n, corners)
    length = np.linalg.norm(out, axis=1, keepdims=True)
    ok = length[:, 0] > 0
    out[ok] /= length[ok]
    out[~ok] = (1.0, 0.0, 0.0)
    return out


def _angle_gradients(corner, g_angle: np.ndarray):
    """Gradients of a corner's angle (weighted by g_angle, (F,)) with respect to d0 and d1."""
    d0, d1, l0, l1, ok, u, _ = corner
    s = np.sqrt(np.maximum(1.0 - u * u, 0.0))
    live = ok & (s > 1e-12)
    k = np.where(live, -g_angle / np.where(live, s, 1.0), 0.0)  # d angle = -du / sin
    inv = np.where(live, 1.0 / np.where(live, l0 * l1, 1.0), 0.0)
    inv0 = np.where(live, 1.0 / np.where(live, l0 * l0, 1.0), 0.0)
    inv1 = np.where(live, 1.0 / np.where(live, l1 * l1, 1.0), 0.0)
    g_d0 = k[:, None] * (d1 * inv[:, None] - d0 * (u * inv0)[:, None])
    g_d1 = k[:, None] * (d0 * inv[:, None] - d1 * (u * inv1)[:, None])
    return g_d0, g_d1


def smooth_vertex_normals_vjp(positions: np.ndarray, faces: np.ndarray, grad_normals: np.ndarray) -> np.ndarray:
    """Reverse mode: the gradient with respect to the positions, (N, 3) float64, of a loss
    whose gradient with respect to the unit vertex normals is `grad_normals` (N, 3)."""
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    g_out = np.asarray(grad_normals, dtype=np.float64).reshape(-1, 3)
    e1, e2, c_len, n, corners = _corner_terms(p, faces)
    acc = _weighted_sum(len(p), faces, n, corners)
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    ok = length[:, 0] > 0
    out = np.divide(acc, length, out=np.zeros_like(acc), where=length > 0)
    g_acc = np.zeros_like(acc)  # through the normalization
    g_acc[ok] = (g_out[ok] - out[ok] * np.sum(out[ok] * g_out[ok], axis=1, keepdims=True)) / length[ok]
    g_n = np.zeros_like(n)
    g_p = np.zeros_like(p)
    for i, corner in enumerate(corners):
        g_at = g_acc[faces[:, i]]
        g_n += corner[6][:, None] * g_at
        g_d0, g_d1 = _angle_gradients(corner, np.sum(n * g_at, axis=1))
        # d0 = p[i+1] - p[i], d1 = p[i+2] - p[i]
        np.add.at(g_p, faces[:, (i + 1) % 3], g_d0)
        np.add.at(g_p, faces[:, (i + 2) % 3], g_d1)
        np.add.at(g_p, faces[:, i], -g_d0 - g_d1)
    # n = c / |c|, c = e1 x e2
    c_ok = c_len[:, 0] > 0
    g_c = np.zeros_like(n)
    g_c[c_ok] = (g_n[c_ok] - n[c_ok] * np.sum(n[c_ok] * g_n[c_ok], axis=1, keepdims=True)) / c_len[c_ok]
    g_e1 = np.cross(e2, g_c)
    g_e2 = np.cross(g_c, e1)
    np.add.at(g_p, faces[:, 1], g_e1)
    np.add.at(g_p, faces[:, 2], g_e2)
    np.add.at(g_p, faces[:, 0], -g_e1 - g_e2)
    return g_p


def smooth_vertex_normals_jvp(positions: np.ndarray, faces: np.ndarray, tangent: np.ndarray) -> np.ndarray:
    """Forward mode: the derivative of the unit vertex normals, (N, 3) float64, when the
    positions move along `tangent` (N, 3)."""
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    t = np.asarray(tangent, dtype=np.float64).reshape(-1, 3)
    e1, e2, c_len, n, corners = _corner_terms(p, faces)
    tv = t[faces]
    dc = np.cross(tv[:, 1] - tv[:, 0], e2) + np.cross(e1, tv[:, 2] - tv[:, 0])
    c_ok = c_len[:, 0] > 0
    dn = np.zeros_like(n)
    dn[c_ok] = (dc[c_ok] - n[c_ok] * np.sum(n[c_ok] * dc[c_ok], axis=1, keepdims=True)) / c_len[c_ok]
    acc = _weighted_sum(len(p), faces, n, corners)
    d_acc = np.zeros_like(acc)
    for i, corner in enumerate(corners):
        angle = corner[6]
        dd0 = tv[:, (i + 1) % 3] - tv[:, i]
        dd1 = tv[:, (i + 2) % 3] - tv[:, i]
        # d angle = (g_d0 . dd0 + g_d1 . dd1) with unit weight
        g_d0, g_d1 = _angle_gradients(corner, np.ones(len(faces)))
        d_angle = np.sum(g_d0 * dd0, axis=1) + np.sum(g_d1 * dd1, axis=1)
        np.add.at(d_acc, faces[:, i], dn * angle[:, None] + n * d_angle[:, None])
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    ok = length[:, 0] > 0
    out = np.divide(acc, length, out=np.zeros_like(acc), where=length > 0)
    d_out = np.zeros_like(acc)
    d_out[ok] = (d_acc[ok] - out[ok] * np.sum(out[ok] * d_acc[ok], axis=1, keepdims=True)) / length[ok]
    return d_out
