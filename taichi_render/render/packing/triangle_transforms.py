"""Barycentric transforms of triangles: the rows every ray-triangle test of the traversals uses."""

import numpy as np


def barycentric_transforms(corners: np.ndarray) -> np.ndarray:
    """(T, 3, 3) float32 rows that map x - p0 to (b1, b2, h) for triangles (T, 3, 3) of corners:
    the inverse of the matrix whose columns are e1, e2 and e1 x e2 (intersect.TRI_TO_BARY).
    Degenerate triangles, and those too thin for a float32 inverse, get zero rows, which no ray
    hits."""
    c = corners.astype(np.float64)
    e1, e2 = c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]
    n = np.cross(e1, e2)
    frame = np.stack([e1, e2, n], axis=2)  # columns
    ok = np.einsum("ij,ij->i", n, n) > 0.0
    rows = np.zeros_like(frame)
    if ok.any():
        rows[ok] = np.linalg.inv(frame[ok])
    with np.errstate(over="ignore"):  # so thin that float32 cannot hold the inverse
        rows = rows.astype(np.float32)
    rows[~np.isfinite(rows).all(axis=(1, 2))] = 0.0
    return rows

