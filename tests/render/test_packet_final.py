"""The last vertex's rays traced towards the emitters only (render/drivers/packet_final.py): the scene's
list of emitter primitives, the hits against a closest-hit traversal, and images."""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.backend import megakernel_compile
from taichi_render.render import layout as L
from taichi_render.render.drivers.packet_final import trace_to_emitters
from taichi_render.render.drivers.packet_trace import LANES, VF, trace_packet
from taichi_render.render.renderer import scene_data
from taichi_render.render.view import (
    ALL_FEATURES,
    V3_1,
    SceneArrays,
    SceneView,
)


def emitting_cubes(count):
    d = {"type": "scene", "integrator": {"type": "path", "max_depth": 3},
         "sensor": {"type": "perspective", "film": {"type": "hdrfilm", "width": 8, "height": 8}}}
    for i in range(count):
        d[f"cube_{i}"] = {"type": "cube", "to_world": tr.ScalarTransform4f().translate([3.0 * i, 0.0, 5.0]),
                          "emitter": {"type": "area", "radiance": {"type": "rgb", "value": [1.0, 1.0, 1.0]}}}
    return tr.load_dict(d)


def test_scene_lists_its_emitter_primitives(scenes_dir):
    data = scene_data(tr.load_file(scenes_dir / "cbox.xml", res=8))
    scene_i, prim, tri_v, shape_i = (data.np[k] for k in ("scene_i", "prim", "tri_v", "shape_i"))
    count = scene_i[L.SC_EMITTER_PRIMS]
    assert count == 2  # the light's two triangles
    listed = scene_i[L.SC_WIDTH:L.SC_WIDTH + count]
    emitting = [k for k, (kind, idx) in enumerate(prim)
                if shape_i[tri_v[idx, 3] if kind == L.PRIM_TRIANGLE else idx, L.SI_EMITTER] >= 0]
    assert sorted(listed) == emitting
    # an environment emitter lights every ray that escapes: nothing is listed
    assert scene_data(tr.load_file(scenes_dir / "glass_sphere.xml", res=8)).np["scene_i"][L.SC_EMITTER_PRIMS] == -1
    assert scene_data(emitting_cubes(1)).np["scene_i"][L.SC_EMITTER_PRIMS] == 12
    # more than MAX_LISTED_EMITTER_PRIMS: the last vertex traces the whole scene
    assert scene_data(emitting_cubes(2)).np["scene_i"][L.SC_EMITTER_PRIMS] == -1


@ti.func
def _final_and_closest(sc: ti.template(), k: ti.i32, ro: ti.template(), rd: ti.template(), out: ti.template()):
    o = ti.Matrix.zero(ti.f32, 6, LANES)
    for l in ti.static(range(LANES)):
        for c in ti.static(range(3)):
            o[c, l] = ro[k * LANES + l][c]
            o[3 + c, l] = rd[k * LANES + l][c]
    rows = [VF([o[r, l] for l in ti.static(range(LANES))]) for r in ti.static(range(6))]
    t, p, _, _ = trace_to_emitters(sc, *rows, VF(3.0e38))
    tc, pc, _, _ = trace_packet(sc, *rows, VF(3.0e38), False)
    for l in ti.static(range(LANES)):
        i = k * LANES + l
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = t[l], ti.cast(p[l], ti.f32), tc[l], ti.cast(pc[l], ti.f32)


@ti.kernel
def _trace_final_and_closest(scene: SceneArrays, ro: V3_1, rd: V3_1, out: ti.types.ndarray(dtype=ti.f32, ndim=2)):
    for k in range(ro.shape[0] // LANES):
        _final_and_closest(SceneView(ALL_FEATURES, scene),
                           k, ro, rd, out)


def test_trace_to_emitters_finds_the_closest_hits_on_emitters(scenes_dir):
    # rays from inside the box towards points of the light: some reach it, the boxes block others
    scene = tr.load_file(scenes_dir / "cbox.xml", res=8)
    data = scene_data(scene)
    rng = np.random.default_rng(1)
    n = 256 * LANES
    lo, hi = data.np["node_box"][0, 0], data.np["node_box"][0, 1]
    origins = lo + (hi - lo) * rng.uniform(0.02, 0.98, (n, 3))
    listed = data.np["scene_i"][L.SC_WIDTH:]
    tri = data.np["prim"][listed[rng.integers(0, len(listed), n)], 1]
    p0, e1, e2 = (data.np["tri_p"][tri, j] for j in range(3))
    u, v = rng.random((2, n, 1))
    fold = u + v > 1
    u, v = np.where(fold, 1 - u, u), np.where(fold, 1 - v, v)
    dirs = p0 + u * e1 + v * e2 - origins
    dirs[: n // 4] = rng.normal(size=(n // 4, 3))  # and rays in any direction
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    ro, rd = ti.ndarray(ti.math.vec3, n), ti.ndarray(ti.math.vec3, n)
    ro.from_numpy(origins.astype(np.float32))
    rd.from_numpy(dirs.astype(np.float32))
    out = ti.ndarray(ti.f32, (n, 4))
    with megakernel_compile():
        _trace_final_and_closest(data.arrays(), ro, rd, out)
    t, p, tc, pc = out.to_numpy().T
    on_emitter = np.isin(pc, listed)
    assert 0.1 < on_emitter.mean() < 0.9  # both cases occur
    agree = np.where(on_emitter, p == pc, p == -1)
    assert agree.mean() > 0.999
    both = on_emitter & (p == pc)
    np.testing.assert_allclose(t[both], tc[both], rtol=1e-6)


@pytest.mark.parametrize("max_depth", [1, 2, 4])
def test_packet_images_with_emitter_tracing_equal_per_ray(monkeypatch, scenes_dir, max_depth):
    # max_depth 1: camera rays see the light only; the one-ray kernels trace every ray fully
    scene = tr.load_file(scenes_dir / "cbox.xml", res=24, max_depth=max_depth)
    images = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("TR_PACKETS", flag)
        images[flag] = tr.render(scene, spp=4, seed=5).to_numpy()
    assert images["0"].max() > 0
    diff = np.abs(images["1"] - images["0"])
    assert np.mean(diff > 1e-3 * images["0"].max()) < 0.002
    assert diff.mean() < 1e-4 * max(images["0"].mean(), 1e-6)
