"""Triangle pairs that form a parallelogram, tested by the packet traversal as one primitive.

A rectangle is two triangles, a cube twelve, an OBJ quad two: the Cornell box's 36 triangles
are 18 parallelograms. The traversals test a pair with one ray-plane test in the
parallelogram's frame (packet_trace.py, intersect.py), then report the triangle that was hit,
with its own barycentrics, so that every caller still sees triangles. The BVH is built over
units (a pair, or any other primitive alone), and a pair's triangles sit next to each other in
the BVH's primitive order, the first one the "head".

A pair qualifies when two consecutive triangles of one mesh share an edge exactly (the same
float positions) and the second triangle's other corner is the parallelogram's fourth corner
(within float32 rounding). Let triangle A = (a0, a1, a2) share the edge (a_j, a_k) with B, so
that a_i (the "apex") is opposite it, and p3 = a_j + a_k - a_i. A point with A's barycentric
weights (w_i, w_j, w_k) lies in the parallelogram when w_j and w_k are in [0, 1]; it is in A
when w_i >= 0, otherwise in B, whose weights for (a_j, a_k, p3) are
(w_j + w_i, w_k + w_i, -w_i).

Encoding (`node_i` rows after the nodes, one per primitive): column 0 is 0 for a primitive tested
alone, -1 for the second triangle of a pair (skipped), and for a head
1 + apex + 3 * q1 + 9 * q2, where q1, q2 (0: a_j, 1: a_k, 2: p3) say which corners B's second
and third vertices are; column 1 counts the pairs headed before the primitive, which is a head's
row in `pair_p`. A last row (0, Q) closes the table: a leaf's pairs are the pair_p rows
[column 1 at its first primitive, column 1 after its last), after its lone primitives.

`pair_p` (Q, 4) holds each pair's parallelogram frame: the apex a_i, then the rows that map
x - a_i to (w_j, w_k, h), h the height above the plane (the barycentric transform of the
triangle (a_i, a_j, a_k), scene_data.barycentric_transforms). A traversal tests a pair with
these rows alone: the ray meets the plane at t = -h(o - a_i) / h(d), inside the parallelogram
when w_j and w_k of the hit point are in [0, 1]. It keeps (w_j, w_k) of its closest hit and maps
them to a triangle and its barycentrics once, after the traversal (`pair_hit`).
"""

import numpy as np
import taichi as ti

from .. import layout as L
from .triangle_transforms import barycentric_transforms

SINGLE = 0
TAIL = -1
RELATIVE_TOLERANCE = 1e-6  # of the fourth corner, relative to the coordinates' magnitude


@ti.func
def _pick(code: ti.i32, x: ti.template(), y: ti.template(), z: ti.template()):
    """x, y or z for code 0, 1 or 2 (scalars, or lane vectors sharing the code)."""
    return ti.select(code == 0, x, ti.select(code == 1, y, z))


@ti.func
def first_barycentrics(code: ti.template(), w_i: ti.template(), w_j: ti.template(), w_k: ti.template()):
    """The head triangle's own barycentrics (b1, b2) of a point with head weights
    (w_i, w_j, w_k). `code`: an int, or lane vectors of codes with vectors of weights."""
    apex = (code - 1) % 3  # (j, k) = (1, 2), (0, 2) or (0, 1)
    return _pick(apex, w_j, w_i, w_k), _pick(apex, w_k, w_k, w_i)


@ti.func
def second_barycentrics(code: ti.template(), w_i: ti.template(), w_j: ti.template(), w_k: ti.template()):
    """The second triangle's own barycentrics of a point with head weights (w_i, w_j, w_k)."""
    g_j = w_j + w_i
    g_k = w_k + w_i
    g_3 = -w_i
    return _pick((code - 1) // 3 % 3, g_j, g_k, g_3), _pick((code - 1) // 9, g_j, g_k, g_3)


@ti.func
def pair_hit(code: ti.template(), w_j: ti.template(), w_k: ti.template()):
    """Which triangle of a pair a point with parallelogram weights (w_j, w_k) lies in, and its
    barycentrics there: (second, b1, b2), second 1 for the tail triangle. Scalars, or lane
    vectors (codes per lane)."""
    w_i = 1.0 - w_j - w_k
    a1, a2 = first_barycentrics(code, w_i, w_j, w_k)
    s1, s2 = second_barycentrics(code, w_i, w_j, w_k)
    second = w_i < 0.0
    return ti.select(second, 1, 0), ti.select(second, s1, a1), ti.select(second, s2, a2)


def pair_codes(prims: np.ndarray, corners: np.ndarray, tri_shape: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Unit codes (P,) int32 of primitives `prims` (P, 2) = (kind, index) in their original order.

    Args:
        prims: (P, 2) int32 primitive kinds and indices (triangles: index into corners).
        corners: (T, 3, 3) float32 triangle corners.
        tri_shape: (T,) shape index of each triangle.
        transforms: (T, 3, 3) barycentric transforms; an all-zero one (degenerate triangle) is
            never paired.
    Returns:
        (P,) int32 codes as in the module docstring; pairs are consecutive primitives.
    """
    n = len(prims)
    codes = np.zeros(n, np.int32)
    if n < 2:
        return codes
    kind, index = prims[:, 0], prims[:, 1]
    t0 = index[:-1]
    t1 = index[1:]
    candidate = (kind[:-1] == L.PRIM_TRIANGLE) & (kind[1:] == L.PRIM_TRIANGLE)
    t0c = np.where(candidate, t0, 0)
    t1c = np.where(candidate, t1, 0)
    candidate &= (t1c == t0c + 1) & (tri_shape[t0c] == tri_shape[t1c])
    live = np.abs(transforms).reshape(len(transforms), -1).max(axis=1) > 0.0
    candidate &= live[t0c] & live[t1c]
    a = corners[t0c].astype(np.float64)
    b = corners[t1c].astype(np.float64)
    tol = RELATIVE_TOLERANCE * (np.abs(a).max(axis=(1, 2)) + 1.0)
    head_code = np.zeros(n - 1, np.int32)
    for apex in range(3):
        j, k = [m for m in range(3) if m != apex]
        p3 = a[:, j] + a[:, k] - a[:, apex]
        cat = np.full((n - 1, 3), -1)  # which corner (0: a_j, 1: a_k, 2: p3) each of B's vertices is
        for m in range(3):
            is_j = (b[:, m] == a[:, j]).all(axis=1)
            is_k = (b[:, m] == a[:, k]).all(axis=1)
            is_3 = np.abs(b[:, m] - p3).max(axis=1) <= tol
            cat[:, m] = np.where(is_j, 0, np.where(is_k, 1, np.where(is_3 & ~is_j & ~is_k, 2, -1)))
        ok = candidate & (head_code == 0) & (np.sort(cat, axis=1) == [0, 1, 2]).all(axis=1)
        head_code[ok] = 1 + apex + 3 * cat[ok, 1] + 9 * cat[ok, 2]
    # greedy along each run of consecutive candidates: the 1st, 3rd, ... pair of a run
    valid = head_code > 0
    run_start = np.maximum.accumulate(np.where(valid & ~np.r_[False, valid[:-1]], np.arange(n - 1), 0))
    take = valid & ((np.arange(n - 1) - run_start) % 2 == 0)
    codes[:-1][take] = head_code[take]
    codes[1:][take] = TAIL
    return codes


def pair_frames(codes: np.ndarray, triangles: np.ndarray, corners: np.ndarray):
    """Parallelogram frames of the pairs, in primitive order.

    Args:
        codes: (P,) int32 unit codes in BVH primitive order.
        triangles: (P,) triangle index of each primitive (ignored where codes <= 0).
        corners: (T, 3, 3) float32 triangle corners.
    Returns:
        pair_p (max(Q, 1), 4, 3) float32 (apex, then the rows of `barycentric_transforms` of
        (a_i, a_j, a_k)), and rows (P + 1,) int32: how many pairs are headed before each
        primitive (a head's own row in pair_p), then Q.
    """
    heads = np.flatnonzero(codes > 0)
    rows = np.r_[0, np.cumsum(codes > 0)].astype(np.int32)  # pairs headed before each primitive
    pair_p = np.zeros((max(len(heads), 1), 4, 3), np.float32)
    if len(heads):
        apex = (codes[heads] - 1) % 3
        others = np.array([[1, 2], [0, 2], [0, 1]])[apex]
        order = np.concatenate([apex[:, None], others], axis=1)
        framed = np.take_along_axis(corners[triangles[heads]], order[:, :, None], axis=1)
        pair_p[:, 0] = framed[:, 0]
        pair_p[:, 1:] = barycentric_transforms(framed)
    return pair_p, rows


def unit_boxes(boxes: np.ndarray, codes: np.ndarray):
    """Boxes of the units (a pair or a lone primitive) and each unit's first primitive."""
    first = np.flatnonzero(codes != TAIL)
    unit = boxes[first].copy()
    heads = codes[first] > 0
    tails = first[heads] + 1
    unit[heads, 0] = np.minimum(unit[heads, 0], boxes[tails, 0])
    unit[heads, 1] = np.maximum(unit[heads, 1], boxes[tails, 1])
    return unit, first


def expand_units(unit_order: np.ndarray, first: np.ndarray, codes: np.ndarray, node_i: np.ndarray):
    """Primitive order and leaf ranges from a BVH built over units: returns (order (P,), node_i
    with leaves counted in primitives). A pair's two triangles stay next to each other, and each
    leaf holds its lone primitives first, then its pairs (the packet traversal loops over
    them separately)."""
    unit_order = np.asarray(unit_order)
    leaves = node_i[:, 1] > 0
    # each leaf: its lone primitives first, then its pairs (leaves tile the unit order, so a
    # stable sort by (leaf, is a pair) moves units within their leaf only)
    leaf_start, leaf_count = node_i[leaves, 0], node_i[leaves, 1]
    by_start = np.argsort(leaf_start, kind="stable")
    leaf_of = np.repeat(leaf_start[by_start], leaf_count[by_start])
    unit_order = unit_order[np.lexsort((codes[first[unit_order]] > 0, leaf_of))]
    sizes = np.where(codes[first] > 0, 2, 1)[unit_order]
    offsets = np.r_[0, np.cumsum(sizes)]
    order = np.repeat(first[unit_order], sizes) + (np.arange(sizes.sum()) - np.repeat(offsets[:-1], sizes))
    node_i = node_i.copy()
    start, count = node_i[leaves, 0], node_i[leaves, 1]
    node_i[leaves, 0] = offsets[start]
    node_i[leaves, 1] = offsets[start + count] - offsets[start]
    return order, node_i
