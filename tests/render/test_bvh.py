"""The BVH builder (render/packing/bvh.py): structure invariants on random boxes, and the SAH cost model's
choice of one leaf for a Cornell-box-sized scene."""

import numpy as np
import pytest

from taichi_render.render.packing import bvh


def random_boxes(n, seed=0):
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-1, 1, (n, 3))
    return np.stack([lo, lo + rng.uniform(0.0, 0.1, (n, 3))], axis=1)


def walk(node_i, node=0, depth=0):
    """(leaf node, depth) of every leaf under `node`, left to right."""
    first, count = node_i[node]
    if count > 0:
        return [(node, depth)]
    return walk(node_i, node + 1, depth + 1) + walk(node_i, first, depth + 1)


@pytest.mark.parametrize("n", [1, 5, 64, 65, 3000])
def test_bvh_structure(n):
    boxes = random_boxes(n)
    node_box, node_i, order = bvh.build_bvh(boxes)
    assert sorted(order.tolist()) == list(range(n))
    leaves = walk(node_i)
    covered = []
    for leaf, _ in leaves:
        first, count = node_i[leaf]
        assert 0 < count <= 4 * bvh.LEAF_SIZE
        prims = order[first:first + count]
        covered += prims.tolist()
        assert np.all(node_box[leaf, 0] <= boxes[prims, 0]) and np.all(boxes[prims, 1] <= node_box[leaf, 1])
    assert sorted(covered) == list(range(n))  # every primitive in exactly one leaf
    for node, (first, count) in enumerate(node_i):
        if count == 0:  # inner: both children inside it
            for child in (node + 1, first):
                assert np.all(node_box[node, 0] <= node_box[child, 0]) and np.all(node_box[child, 1] <= node_box[node, 1])
    if n > 4 * bvh.LEAF_SIZE:
        assert len(leaves) > 1 and max(d for _, d in leaves) < 40


def test_small_scene_is_one_leaf_and_large_one_splits():
    # packets test a leaf's primitives on 16 lanes at once: a node visit costs about 8 of those
    # tests (bvh.TRAVERSAL_COST), so the Cornell box's 36 triangles make one leaf
    import taichi_render as tr
    from taichi_render.render.renderer import scene_data

    tri = scene_data(tr.load_dict(tr.cornell_box())).np["tri_p"]
    corners = np.stack([tri[:, 0], tri[:, 0] + tri[:, 1], tri[:, 0] + tri[:, 2]], axis=1)
    walls = np.stack([corners.min(axis=1), corners.max(axis=1)], axis=1)
    _, node_i, _ = bvh.build_bvh(walls)
    assert len(node_i) == 1 and node_i[0, 1] == 36
    _, node_i, _ = bvh.build_bvh(random_boxes(2000))
    assert len(node_i) > 31


def test_refit_of_unchanged_boxes_is_the_built_tree_and_bounds_hold_after_moves():
    boxes = random_boxes(3000)
    node_box, node_i, order = bvh.build_bvh(boxes)
    np.testing.assert_array_equal(bvh.refit_bvh(boxes, node_i, order), node_box)
    moved = boxes + np.random.default_rng(1).normal(0.0, 0.05, (len(boxes), 1, 3))
    refit = bvh.refit_bvh(moved, node_i, order)
    for leaf, _ in walk(node_i):
        first, count = node_i[leaf]
        prims = order[first:first + count]
        assert np.all(refit[leaf, 0] <= moved[prims, 0]) and np.all(moved[prims, 1] <= refit[leaf, 1])
    for node, (first, count) in enumerate(node_i):
        if count == 0:
            for child in (node + 1, first):
                assert np.all(refit[node, 0] <= refit[child, 0]) and np.all(refit[child, 1] <= refit[node, 1])
    assert bvh.sah_cost(refit, node_i) > bvh.sah_cost(node_box, node_i)  # scattered boxes: a worse tree


def test_refitter_refits_small_moves_and_rebuilds_on_new_primitives_or_a_worse_tree():
    boxes = random_boxes(2000)
    topology = np.arange(2000)
    refitter = bvh.BvhRefitter()
    first = refitter(boxes, topology)
    small = refitter(boxes + 1e-3, topology)
    assert (refitter.builds, refitter.refits) == (1, 1)
    assert small[1] is first[1] and np.allclose(small[0], first[0] + 1e-3, atol=1e-5)
    refitter(boxes[:1999], topology[:1999])  # another set of primitives: built anew
    assert (refitter.builds, refitter.refits) == (2, 1)
    shuffled = boxes[:1999][np.random.default_rng(2).permutation(1999)]  # same count, boxes far from their tree
    _, node_i, _ = refitter(shuffled, topology[:1999])
    assert (refitter.builds, refitter.refits) == (3, 1)
    np.testing.assert_array_equal(node_i, bvh.build_bvh(shuffled)[1])


def test_moving_vertices_refits_and_renders_what_a_fresh_scene_renders():
    import taichi_render as tr
    from taichi_render.render.packing import scene_data as packing

    def scene():
        d = tr.cornell_box()
        d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 24
        return tr.load_dict(d)

    moving = scene()
    params = tr.traverse(moving)
    key = "small-box.vertex_positions"
    tr.render(moving, spp=2)
    refitter = packing._REFITTERS[moving]
    v = params[key].copy()
    v[1::3] += 0.05  # lift the small box
    params[key] = v
    params.update()
    image = tr.render(moving, spp=2).to_numpy()
    assert refitter.refits == 1 and refitter.builds == 1
    fresh = scene()
    fresh_params = tr.traverse(fresh)
    fresh_params[key] = v
    fresh_params.update()
    np.testing.assert_array_equal(image, tr.render(fresh, spp=2).to_numpy())
