"""Bounding volume hierarchy: built on the host with binned SAH, traversed in kernels.

Layout (depth-first): the left child of an inner node is the next node; `node_i[k] =
(right_child, 0)` for inner nodes and `(first_prim, count)` for leaves, where prims are
ordered by the returned permutation. Bounds are float32, padded outward by one ulp-ish so
that float rounding never drops a hit.
"""

from __future__ import annotations

import numpy as np

# SAH costs of the packet traversal (packet_trace.py), in the time of one primitive tested on
# all 16 lanes. Visiting an inner node (two box tests, any-lane reductions, a stack push and
# pop, branches) costs about 8 of them: measured on the Cornell box (36 triangles), random
# packets traced 60 Mrays/s through 15 nodes (leaves of 8), 85 through 5 and 98 through one leaf
# of 36; renders at spp 16 took 84.6 ms with one leaf against 92.2 ms with 15 nodes. Meshes of
# 1k to 1M triangles render as fast within noise with these costs as with unit costs, in half
# the nodes and 40 % less build time.
LEAF_SIZE = 16  # nodes of at most this many primitives are leaves; up to 4x as many, SAH decides
SAH_BINS = 16
TRAVERSAL_COST = 8.0
INTERSECT_COST = 1.0


def _half_area(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    d = np.maximum(hi - lo, 0.0)
    return d[..., 0] * d[..., 1] + d[..., 1] * d[..., 2] + d[..., 2] * d[..., 0]


def _sah_split(boxes: np.ndarray, centroids: np.ndarray, lo_c, hi_c, axis: int):
    """Best binned-SAH split along `axis`: returns (cost, boolean mask of the left side)."""
    n = len(boxes)
    extent = hi_c[axis] - lo_c[axis]
    bins = np.minimum(((centroids[:, axis] - lo_c[axis]) / extent * SAH_BINS).astype(np.int64), SAH_BINS - 1)
    counts = np.bincount(bins, minlength=SAH_BINS)
    b_lo = np.full((SAH_BINS, 3), np.inf)
    b_hi = np.full((SAH_BINS, 3), -np.inf)
    _reduce_bins(bins, boxes, b_lo, b_hi)
    # prefix (left) and suffix (right) sweeps
    left_lo = np.minimum.accumulate(b_lo, axis=0)
    left_hi = np.maximum.accumulate(b_hi, axis=0)
    right_lo = np.minimum.accumulate(b_lo[::-1], axis=0)[::-1]
    right_hi = np.maximum.accumulate(b_hi[::-1], axis=0)[::-1]
    left_n = np.cumsum(counts)
    right_n = n - left_n
    cost = np.full(SAH_BINS - 1, np.inf)
    for k in range(SAH_BINS - 1):
        if left_n[k] == 0 or right_n[k] == 0:
            continue
        cost[k] = left_n[k] * _half_area(left_lo[k], left_hi[k]) + right_n[k] * _half_area(
            right_lo[k + 1], right_hi[k + 1]
        )
    k = int(np.argmin(cost))
    return cost[k], bins <= k


def _reduce_bins(bins, boxes, b_lo, b_hi):
    order = np.argsort(bins, kind="stable")
    sorted_bins = bins[order]
    starts = np.flatnonzero(np.r_[True, sorted_bins[1:] != sorted_bins[:-1]])
    used = sorted_bins[starts]
    b_lo[used] = np.minimum.reduceat(boxes[order, 0], starts, axis=0)
    b_hi[used] = np.maximum.reduceat(boxes[order, 1], starts, axis=0)


def build_bvh(boxes: np.ndarray, leaf_size: int = LEAF_SIZE):
    """Build a BVH over primitive bounds.

    Args:
        boxes: (P, 2, 3) float array of primitive bounds (min, max).
    Returns:
        node_box (N, 2, 3) float32, node_i (N, 2) int32, order (P,) int64 permutation of prims.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 2, 3)
    n_prims = len(boxes)
    if n_prims == 0:
        return np.zeros((1, 2, 3), np.float32), np.zeros((1, 2), np.int32), np.zeros(0, np.int64)
    centroids = 0.5 * (boxes[:, 0] + boxes[:, 1])
    order = np.arange(n_prims)
    node_lo, node_hi, node_i = [], [], []
    stack = [(0, n_prims, -1)]
    while stack:
        start, end, parent = stack.pop()
        node = len(node_i)
        if parent >= 0:
            node_i[parent][0] = node
        sub = order[start:end]
        b = boxes[sub]
        node_lo.append(b[:, 0].min(0))
        node_hi.append(b[:, 1].max(0))
        count = end - start
        node_i.append([start, count])
        if count <= leaf_size:
            continue
        c = centroids[sub]
        lo_c, hi_c = c.min(0), c.max(0)
        axis = int(np.argmax(hi_c - lo_c))
        if hi_c[axis] - lo_c[axis] <= 0.0:
            left = np.zeros(count, bool)
            left[: count // 2] = True  # identical centroids: split the list in half
        else:
            cost, left = _sah_split(b, c, lo_c, hi_c, axis)
            leaf_cost = count * INTERSECT_COST
            split_cost = TRAVERSAL_COST + cost / max(_half_area(node_lo[-1], node_hi[-1]), 1e-30)
            if split_cost >= leaf_cost and count <= 4 * leaf_size:
                continue
            if left.all() or not left.any():
                median = np.argsort(c[:, axis], kind="stable")
                left = np.zeros(count, bool)
                left[median[: count // 2]] = True
        order[start:end] = np.concatenate([sub[left], sub[~left]])
        mid = start + int(left.sum())
        node_i[node] = [0, 0]
        stack.append((mid, end, node))  # right: popped after the whole left subtree
        stack.append((start, mid, -1))  # left: the next node
    node_box = np.stack([np.array(node_lo), np.array(node_hi)], axis=1)
    # pad so that float32 rounding of the bounds never loses a hit
    pad = 1e-6 * (np.abs(node_box).max(axis=(1, 2), keepdims=True) + 1.0)
    node_box = node_box + np.array([-1.0, 1.0])[None, :, None] * pad
    return node_box.astype(np.float32), np.array(node_i, np.int32), order
