"""Bounding volume hierarchy: built on the host with binned SAH, traversed in kernels.

Layout (depth-first): the left child of an inner node is the next node; `node_i[k] =
(right_child, 0)` for inner nodes and `(first_prim, count)` for leaves, where prims are
ordered by the returned permutation. Bounds are float32, padded outward by one ulp-ish so
that float rounding never drops a hit.

When only the primitives' bounds change (a mesh's vertices moved, its faces did not),
`BvhRefitter` keeps the tree and recomputes its bounds (a refit), until the refitted tree's
SAH cost exceeds `REFIT_GROWTH` times the cost it had when built; then it builds anew.
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
REFIT_GROWTH = 1.25  # a refitted tree is kept while its SAH cost is at most this times its built cost


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
    left_n = np.cumsum(counts)[:-1]
    right_n = n - left_n
    both = (left_n > 0) & (right_n > 0)  # split after bin k leaves primitives on both sides
    with np.errstate(invalid="ignore"):  # empty prefixes have inf bounds; masked out below
        cost = left_n * _half_area(left_lo[:-1], left_hi[:-1]) + right_n * _half_area(right_lo[1:], right_hi[1:])
    cost = np.where(both, cost, np.inf)
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
    return _padded(node_box), np.array(node_i, np.int32), order


def _padded(node_box: np.ndarray) -> np.ndarray:
    """float32 bounds padded so that float32 rounding never loses a hit."""
    pad = 1e-6 * (np.abs(node_box).max(axis=(1, 2), keepdims=True) + 1.0)
    return (node_box + np.array([-1.0, 1.0])[None, :, None] * pad).astype(np.float32)


def refit_bvh(boxes: np.ndarray, node_i: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Bounds of an existing tree (`node_i`, `order` from `build_bvh`) over new primitive
    bounds `boxes` (P, 2, 3): each leaf's box is the union of its primitives', each inner
    node's the union of its children's. Returns node_box (N, 2, 3) float32, padded as
    `build_bvh` pads."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 2, 3)
    n = len(node_i)
    lo, hi = np.empty((n, 3)), np.empty((n, 3))
    leaves = np.flatnonzero(node_i[:, 1] > 0)
    by_start = leaves[np.argsort(node_i[leaves, 0], kind="stable")]  # leaves tile `order`
    ordered = boxes[order]
    starts = node_i[by_start, 0]
    lo[by_start] = np.minimum.reduceat(ordered[:, 0], starts, axis=0)
    hi[by_start] = np.maximum.reduceat(ordered[:, 1], starts, axis=0)
    for k in np.flatnonzero(node_i[:, 1] == 0)[::-1]:  # children come after their parent
        right = node_i[k, 0]
        lo[k] = np.minimum(lo[k + 1], lo[right])
        hi[k] = np.maximum(hi[k + 1], hi[right])
    return _padded(np.stack([lo, hi], axis=1))


def sah_cost(node_box: np.ndarray, node_i: np.ndarray) -> float:
    """Expected cost of a ray through the tree (the SAH, in units of one primitive test):
    node visits and primitive tests weighted by their boxes' areas relative to the root's."""
    area = _half_area(node_box[:, 0].astype(np.float64), node_box[:, 1].astype(np.float64))
    count = node_i[:, 1]
    inner = count == 0
    total = TRAVERSAL_COST * area[inner].sum() + INTERSECT_COST * (area[~inner] * count[~inner]).sum()
    return float(total / max(area[0], 1e-30))


class BvhRefitter:
    """Builds a BVH, and refits it while the primitives stay the same and the tree stays good.

    ``refitter(boxes, topology)`` returns (node_box, node_i, order) as `build_bvh` does. It
    refits the last tree when `topology` (an array identifying the primitives and their
    grouping, e.g. the primitive table) equals the last call's and the refitted tree's
    `sah_cost` is at most `growth` times the cost it had when built; otherwise it builds.
    The result depends only on the sequence of calls (every process that makes the same
    calls gets the same trees). ``builds`` and ``refits`` count what it did.
    """

    def __init__(self, growth: float = REFIT_GROWTH, leaf_size: int = LEAF_SIZE):
        self.growth, self.leaf_size = float(growth), int(leaf_size)
        self._tree = None  # (topology, node_i, order, cost when built) of the last build
        self.builds = self.refits = 0

    def __call__(self, boxes: np.ndarray, topology: np.ndarray):
        topology = np.asarray(topology)
        if self._tree is not None and np.array_equal(self._tree[0], topology):
            _, node_i, order, built_cost = self._tree
            node_box = refit_bvh(boxes, node_i, order)
            if sah_cost(node_box, node_i) <= self.growth * built_cost:
                self.refits += 1
                return node_box, node_i, order
        node_box, node_i, order = build_bvh(boxes, self.leaf_size)
        self.builds += 1
        self._tree = (topology.copy(), node_i, order, sah_cost(node_box, node_i)) if len(boxes) else None
        return node_box, node_i, order
