"""Triangle pairs tested as parallelograms by the packet traversal (taichi_render/render/packing/quads.py)."""

import itertools

import numpy as np
import taichi as ti
from test_packets import _trace_both

import taichi_render as tr
from taichi_render.backend import megakernel_compile
from taichi_render.render import layout as L
from taichi_render.render.drivers.packet_trace import LANES
from taichi_render.render.packing.quads import (
    SINGLE,
    TAIL,
    expand_units,
    pair_codes,
    pair_frames,
    unit_boxes,
)
from taichi_render.render.packing.scene_data import barycentric_transforms
from taichi_render.render.renderer import scene_data


def _codes_of(triangles, shapes=None):
    corners = np.asarray(triangles, np.float32).reshape(-1, 3, 3)
    prims = np.stack([np.full(len(corners), L.PRIM_TRIANGLE), np.arange(len(corners))], axis=1).astype(np.int32)
    shapes = np.zeros(len(corners), np.int32) if shapes is None else np.asarray(shapes)
    return pair_codes(prims, corners, shapes, barycentric_transforms(corners))


SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)


def test_every_corner_order_of_a_square_pairs_with_a_code_that_maps_barycentrics():
    # A = (a0, a1, a2) in each rotation, B = the other half in each of its 6 vertex orders: the
    # code's apex and corner map send a point's A weights to its B weights
    rng = np.random.default_rng(1)
    for rot in range(3):
        a_idx = np.roll([0, 1, 2], rot)
        for b_idx in itertools.permutations([2, 3, 0]):
            a, b = SQUARE[a_idx], SQUARE[list(b_idx)]
            code = _codes_of([a, b])
            assert code[1] == TAIL and code[0] > 0, (rot, b_idx)
            apex, q1, q2 = (code[0] - 1) % 3, (code[0] - 1) // 3 % 3, (code[0] - 1) // 9
            j, k = [m for m in range(3) if m != apex]
            assert np.array_equal(a[j] + a[k] - a[apex], SQUARE[3])  # B's corner that A lacks
            for p in rng.uniform(0, 1, (20, 2)):
                point = np.array([p[0], p[1], 0.0])
                w = np.linalg.solve(np.vstack([a[:, :2].T, np.ones(3)]), np.r_[point[:2], 1.0])
                g = {0: w[j] + w[apex], 1: w[k] + w[apex], 2: -w[apex]}
                wb = np.linalg.solve(np.vstack([b[:, :2].T, np.ones(3)]), np.r_[point[:2], 1.0])
                if w[apex] < 0:  # in B: the mapped weights are B's own barycentrics
                    np.testing.assert_allclose([g[q1], g[q2]], wb[1:], atol=1e-9)
                else:
                    assert np.all(w >= -1e-12)


def test_pair_frames_map_the_parallelogram_to_the_unit_square():
    # for every corner order of the square's halves, the frame's rows send the apex to (0, 0),
    # the two shared corners to (1, 0) and (0, 1), the fourth corner to (1, 1), and measure the
    # height above the plane; heads get their row, other primitives 0
    rng = np.random.default_rng(2)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    square = (SQUARE.astype(np.float64) * [2.0, 0.5, 0.0]) @ rotation.T + [3.0, -1.0, 2.0]
    corners, codes = [], []
    for rot in range(3):
        for b_idx in itertools.permutations([2, 3, 0]):
            pair = np.array([square[np.roll([0, 1, 2], rot)], square[list(b_idx)]], np.float32)
            corners.extend(pair)
            codes.extend(_codes_of(pair))
    corners, codes = np.array(corners), np.array(codes, np.int32)
    pair_p, rows = pair_frames(codes, np.arange(len(codes)), corners)
    heads = np.flatnonzero(codes > 0)
    assert len(heads) == 18 and len(pair_p) == 18
    assert len(rows) == len(codes) + 1 and rows[-1] == 18 and list(rows[heads]) == list(range(18))
    assert np.array_equal(np.diff(rows), codes > 0)  # pairs headed before each primitive
    normal = rotation[:, 2]
    for row, head in zip(pair_p.astype(np.float64), heads):
        origin, m = row[0], row[1:]
        apex = (codes[head] - 1) % 3
        assert np.allclose(origin, corners[head, apex])
        mapped = {tuple(np.round(m @ (c - origin), 5)[:2]) for c in square}
        assert mapped == {(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)}
        height = m[2] @ (origin + normal - origin)
        assert abs(abs(height) - 1.0) < 1e-5
    empty_p, empty_rows = pair_frames(np.zeros(3, np.int32), np.arange(3), corners[:3])
    assert empty_p.shape == (1, 4, 3) and np.array_equal(empty_rows, [0, 0, 0, 0])


def test_only_exact_parallelograms_of_one_mesh_pair():
    kite = SQUARE.copy()
    kite[1] = [1.2, -0.1, 0]  # p3 != a_j + a_k - a_i
    assert np.array_equal(_codes_of([kite[[0, 1, 3]], kite[[1, 2, 3]]]), [SINGLE, SINGLE])
    assert np.array_equal(_codes_of([SQUARE[[0, 1, 2]], SQUARE[[2, 3, 0]]], shapes=[0, 1]), [SINGLE, SINGLE])
    flat = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], np.float32)  # degenerate: never paired
    assert np.array_equal(_codes_of([flat, flat[[2, 1, 0]]]), [SINGLE, SINGLE])
    # a run of candidates pairs greedily: (0, 1), (2, 3); the lone last triangle stays single
    tris = [SQUARE[[0, 1, 2]], SQUARE[[2, 3, 0]], SQUARE[[0, 1, 2]] + 5, SQUARE[[2, 3, 0]] + 5, SQUARE[[0, 1, 3]]]
    codes = _codes_of(tris)
    assert codes[0] > 0 and codes[2] > 0 and list(codes[[1, 3, 4]]) == [TAIL, TAIL, SINGLE]


def test_units_expand_into_leaves_that_keep_pairs_together():
    codes = np.array([5, TAIL, SINGLE, 7, TAIL, SINGLE], np.int32)
    boxes = np.arange(6 * 6, dtype=np.float32).reshape(6, 2, 3)
    units, first = unit_boxes(boxes, codes)
    assert list(first) == [0, 2, 3, 5]
    np.testing.assert_array_equal(units[0, 0], np.minimum(boxes[0, 0], boxes[1, 0]))
    np.testing.assert_array_equal(units[2, 1], np.maximum(boxes[3, 1], boxes[4, 1]))
    node_i = np.array([[2, 0], [0, 2], [2, 2]], np.int32)  # root; leaf of units 0-1; leaf of units 2-3
    order, expanded = expand_units(np.array([3, 2, 1, 0]), first, codes, node_i)
    assert list(order) == [5, 3, 4, 2, 0, 1]
    assert expanded.tolist() == [[2, 0], [0, 3], [3, 3]]
    # each leaf lists its lone primitives before its pairs, whatever the BVH's order
    order, expanded = expand_units(np.array([2, 3, 0, 1]), first, codes, node_i)
    assert list(order) == [5, 3, 4, 2, 0, 1]
    assert expanded.tolist() == [[2, 0], [0, 3], [3, 3]]


def test_cornell_box_is_eighteen_parallelograms():
    data = scene_data(tr.load_dict(tr.cornell_box()))
    n_nodes = data.np["scene_i"][L.SC_NUM_NODES]
    codes = data.np["node_i"][n_nodes:, 0]
    assert len(codes) == len(data.np["prim"]) + 1 == 37 and codes[-1] == 0  # a closing row
    codes = codes[:-1]
    assert (codes > 0).sum() == 18 and (codes == TAIL).sum() == 18
    assert np.all(codes[np.flatnonzero(codes > 0) + 1] == TAIL)  # each head's tail follows it


def test_packet_hits_on_pairs_report_the_triangle_and_its_barycentrics(tmp_path):
    # an OBJ of quads in every corner order (the loader triangulates each as a fan) and of
    # explicit triangle pairs with B's vertices permuted: rays aimed at random points of each
    # parallelogram get, from both traversals (packets and one ray per thread), the same
    # triangle and barycentrics, and those barycentrics of that triangle are the hit point
    rng = np.random.default_rng(4)
    lines, faces, v = [], [], 0
    quads = []
    for q in range(24):
        base = rng.uniform(-2, 2, 3)
        e1, e2 = rng.normal(size=3), rng.normal(size=3)
        corners = np.array([base, base + e1, base + e1 + e2, base + e2])
        quads.append(corners)
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in corners]
        if q % 2 == 0:
            start = q % 4
            faces.append("f " + " ".join(str(v + 1 + (start + m) % 4) for m in range(4)))
        else:
            perm = list(itertools.permutations([2, 3, 0]))[q % 6]
            faces.append(f"f {v + 1} {v + 2} {v + 3}")
            faces.append("f " + " ".join(str(v + 1 + m) for m in perm))
        v += 4
    (tmp_path / "quads.obj").write_text("\n".join(lines + faces) + "\n")
    scene = tr.load_dict({"type": "scene", "mesh": {"type": "obj", "filename": str(tmp_path / "quads.obj")}})
    data = scene_data(scene)
    n_nodes = data.np["scene_i"][L.SC_NUM_NODES]
    assert (data.np["node_i"][n_nodes:, 0] > 0).sum() == 24  # every quad became one unit
    corners = np.array(quads, np.float64)
    n = 64 * LANES
    which = rng.integers(0, 24, n)
    uv = rng.uniform(0.02, 0.98, (n, 2))
    c = corners[which]
    targets = c[:, 0] + uv[:, :1] * (c[:, 1] - c[:, 0]) + uv[:, 1:] * (c[:, 3] - c[:, 0])
    origins = targets + rng.normal(size=(n, 3)) * 3.0
    dirs = targets - origins
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    ro, rd, tm = ti.ndarray(ti.math.vec3, n), ti.ndarray(ti.math.vec3, n), ti.ndarray(ti.f32, n)
    ro.from_numpy(origins.astype(np.float32))
    rd.from_numpy(dirs.astype(np.float32))
    tm.from_numpy(np.full(n, 1e30, np.float32))
    out = ti.ndarray(ti.f32, (n, 8))
    with megakernel_compile():
        _trace_both(data.arrays(), ro, rd, tm, out, False)
    r = out.to_numpy()
    assert np.all(r[:, 1] >= 0) and np.all(r[:, 5] >= 0)
    same = r[:, 1] == r[:, 5]
    assert same.mean() > 0.999
    np.testing.assert_allclose(r[same][:, [0, 2, 3]], r[same][:, [4, 6, 7]], rtol=1e-4, atol=1e-4)
    tri_p = data.np["tri_p"].astype(np.float64)
    for cols in ([0, 1, 2, 3], [4, 5, 6, 7]):  # packet, then one-ray results
        t, p, b1, b2 = r[:, cols[0]], r[:, cols[1]].astype(int), r[:, cols[2]], r[:, cols[3]]
        tri = data.np["prim"][p, 1]
        on_triangle = tri_p[tri, 0] + b1[:, None] * tri_p[tri, 1] + b2[:, None] * tri_p[tri, 2]
        np.testing.assert_allclose(on_triangle, origins + t[:, None] * dirs, atol=2e-4)
        assert np.all(b1 >= -1e-4) and np.all(b2 >= -1e-4) and np.all(b1 + b2 <= 1 + 1e-4)
    heads = data.np["node_i"][n_nodes:, 0] > 0
    in_second = np.isin(r[:, 1].astype(int), np.flatnonzero(heads) + 1)
    assert 0.3 < in_second.mean() < 0.7  # both halves of the pairs were hit
    with megakernel_compile():
        _trace_both(data.arrays(), ro, rd, tm, out, True)
    r = out.to_numpy()
    assert np.all(r[:, 1] >= 0) and np.all(r[:, 5] >= 0)  # any hit: found by both


def test_rays_parallel_to_a_pair_miss_it_in_both_traversals():
    # a unit square in the plane z = 0 (one pair): rays whose direction lies in that plane,
    # from above, below and on it, hit nothing; rays through it still hit
    square = {"type": "rectangle", "to_world": tr.ScalarTransform4f.translate([0.0, 0.0, 0.0])}
    data = scene_data(tr.load_dict({"type": "scene", "square": square}))
    n_nodes = data.np["scene_i"][L.SC_NUM_NODES]
    assert (data.np["node_i"][n_nodes:, 0] > 0).sum() == 1
    rng = np.random.default_rng(7)
    n = 8 * LANES
    angle = rng.uniform(0, 2 * np.pi, n)
    dirs = np.stack([np.cos(angle), np.sin(angle), np.zeros(n)], axis=1)
    origins = np.stack([rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), rng.choice([-0.5, 0.0, 0.5], n)], axis=1)
    through = np.arange(n) % 4 == 0  # a quarter of the rays cross the square instead
    dirs[through] = [0.0, 0.0, -1.0]
    origins[through] = np.c_[rng.uniform(-0.9, 0.9, (through.sum(), 2)), np.full(through.sum(), 2.0)]
    ro, rd, tm = ti.ndarray(ti.math.vec3, n), ti.ndarray(ti.math.vec3, n), ti.ndarray(ti.f32, n)
    ro.from_numpy(origins.astype(np.float32))
    rd.from_numpy(dirs.astype(np.float32))
    tm.from_numpy(np.full(n, 1e30, np.float32))
    out = ti.ndarray(ti.f32, (n, 8))
    for any_hit in (False, True):
        with megakernel_compile():
            _trace_both(data.arrays(), ro, rd, tm, out, any_hit)
        r = out.to_numpy()
        assert np.all(r[~through][:, [1, 5]] == -1), any_hit
        assert np.all(r[through][:, [1, 5]] >= 0), any_hit
        np.testing.assert_allclose(r[through][:, [0, 4]], 2.0, rtol=1e-6)
