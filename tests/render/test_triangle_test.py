"""The ray-triangle test of every traversal (intersect.intersect_triangle_rows, packet_trace):
barycentric transforms (scene_data.barycentric_transforms) against Moller-Trumbore."""

import warnings

import numpy as np
import taichi as ti

from taichi_render.render.device.intersect import INF, TRI_TO_BARY, intersect_triangle_rows
from taichi_render.render.packing.scene_data import barycentric_transforms


@ti.func
def intersect_triangle(o: ti.math.vec3, d: ti.math.vec3, p0: ti.math.vec3, e1: ti.math.vec3,
                       e2: ti.math.vec3):
    """Moller-Trumbore, the test the renderer used before: (t, b1, b2); t = INF on a miss."""
    pvec = d.cross(e2)
    det = e1.dot(pvec)
    t = INF
    b1 = 0.0
    b2 = 0.0
    if det != 0.0:
        inv_det = 1.0 / det
        tvec = o - p0
        b1 = tvec.dot(pvec) * inv_det
        qvec = tvec.cross(e1)
        b2 = d.dot(qvec) * inv_det
        tt = e2.dot(qvec) * inv_det
        if b1 >= 0.0 and b2 >= 0.0 and b1 + b2 <= 1.0 and tt > 0.0:
            t = tt
    return t, b1, b2


def test_transform_maps_edges_and_normal_to_axes_and_degenerate_to_zero():
    rng = np.random.default_rng(0)
    corners = rng.normal(size=(50, 3, 3))
    corners[7] = [[0, 0, 0], [1, 1, 1], [2, 2, 2]]  # collinear
    corners[9] = 5.0  # a point
    corners[11] *= 1e-20  # too thin for a float32 inverse
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = barycentric_transforms(corners).astype(np.float64)
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    n = np.cross(e1, e2)
    good = np.ones(50, bool)
    good[[7, 9, 11]] = False
    for vec, axis in ((e1, 0), (e2, 1), (n, 2)):
        mapped = np.einsum("tij,tj->ti", m, vec)[good]
        np.testing.assert_allclose(mapped, np.eye(3)[axis][None].repeat(good.sum(), 0), atol=2e-4)
    assert not m[~good].any()


class _Tri:
    """The part of a SceneView that intersect_triangle_rows reads."""

    def __init__(self, tri_p):
        self.tri_p = tri_p


@ti.kernel
def _both(tri_p: ti.types.ndarray(dtype=ti.math.vec3, ndim=2), ro: ti.types.ndarray(dtype=ti.math.vec3, ndim=1),
          rd: ti.types.ndarray(dtype=ti.math.vec3, ndim=1), out: ti.types.ndarray(dtype=ti.f32, ndim=2)):
    for i in ro:
        _one(_Tri(tri_p), i, ro, rd, out)


@ti.func
def _one(sc: ti.template(), i: ti.i32, ro: ti.template(), rd: ti.template(), out: ti.template()):
    tri = i % sc.tri_p.shape[0]
    t, b1, b2 = intersect_triangle_rows(sc, tri, ro[i], rd[i])
    out[i, 0], out[i, 1], out[i, 2] = t, b1, b2
    t, b1, b2 = intersect_triangle(ro[i], rd[i], sc.tri_p[tri, 0], sc.tri_p[tri, 1], sc.tri_p[tri, 2])
    out[i, 3], out[i, 4], out[i, 5] = t, b1, b2


def test_same_hits_as_moller_trumbore():
    rng = np.random.default_rng(1)
    n_tri, n = 64, 64 * 400
    corners = rng.normal(size=(n_tri, 3, 3))
    corners[: n_tri // 4] += 100.0  # far from the origin
    corners[n_tri // 4: n_tri // 2] *= 1e-3  # tiny
    tri_p = np.zeros((n_tri, 6, 3), np.float32)
    tri_p[:, 0] = corners[:, 0]
    tri_p[:, 1] = corners[:, 1] - corners[:, 0]
    tri_p[:, 2] = corners[:, 2] - corners[:, 0]
    tri_p[:, TRI_TO_BARY:] = barycentric_transforms(corners)
    tri = np.arange(n) % n_tri
    uv = rng.uniform(-0.25, 1.0, (n, 2))  # about half the targets lie on their triangle
    e1, e2 = corners[tri, 1] - corners[tri, 0], corners[tri, 2] - corners[tri, 0]
    target = corners[tri, 0] + uv[:, :1] * e1 + uv[:, 1:] * e2
    size = np.linalg.norm(e1, axis=1)[:, None]
    origins = target + rng.normal(size=(n, 3)) * 3.0 * size
    dirs = target - origins
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    args = [ti.ndarray(ti.math.vec3, s) for s in ((n_tri, 6), n, n)]
    for a, v in zip(args, (tri_p, origins, dirs)):
        a.from_numpy(v.astype(np.float32))
    out = ti.ndarray(ti.f32, (n, 6))
    _both(*args, out)
    r = out.to_numpy()
    hit_rows, hit_mt = r[:, 0] < INF, r[:, 3] < INF
    assert 0.2 < hit_mt.mean() < 0.8
    assert np.mean(hit_rows == hit_mt) > 0.999
    both = hit_rows & hit_mt
    # barycentrics against float64 Moller-Trumbore: errors no larger than float32 Moller-Trumbore's
    p = np.cross(dirs, e2)
    det = np.einsum("ij,ij->i", e1, p)
    s0 = origins - corners[tri, 0]
    q = np.cross(s0, e1)
    exact = np.stack([np.einsum("ij,ij->i", s0, p), np.einsum("ij,ij->i", dirs, q),
                      np.einsum("ij,ij->i", e2, q)], axis=1) / det[:, None]
    err_rows = np.abs(r[both][:, [1, 2, 0]] - exact[both])
    err_mt = np.abs(r[both][:, [4, 5, 3]] - exact[both])
    for col in range(3):
        assert np.percentile(err_rows[:, col], 99) <= 2.0 * np.percentile(err_mt[:, col], 99) + 1e-6, col
        assert err_rows[:, col].max() <= 2.0 * err_mt[:, col].max() + 1e-6, col
