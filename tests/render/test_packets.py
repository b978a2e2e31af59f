"""Ray packets (packet_trace.py, packet_kernels.py, packet_diffuse.py) against the one-ray-per-thread
kernels: the same random numbers per sample, so the same images and gradients up to rounding."""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.backend import megakernel_compile
from taichi_render.render import layout as L
from taichi_render.render import renderer
from taichi_render.render.device.intersect import INF, trace
from taichi_render.render.drivers.packet_trace import LANES, VF, trace_packet
from taichi_render.render.renderer import scene_data
from taichi_render.render.view import (
    ALL_FEATURES,
    F_1,
    V3_1,
    SceneArrays,
    SceneView,
)


def render_both(monkeypatch, scene, **kwargs):
    monkeypatch.setenv("TR_PACKETS", "0")
    one_by_one = tr.render(scene, **kwargs).to_numpy()
    monkeypatch.setenv("TR_PACKETS", "1")
    packets = tr.render(scene, **kwargs).to_numpy()
    return one_by_one, packets


def gradients_both(monkeypatch, scene, params, keys, spp):
    """d(mean squared image)/d(key) for each key, with one ray per thread ("0") and with packets
    ("1"): {flag: [gradient of each key]}, the same samples (seed 1, seed_grad 2) for both."""
    params.enable_grad(keys)
    grads = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("TR_PACKETS", flag)
        loss = tr.ad.loss_field()
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=spp, seed=1, seed_grad=2)
            tr.ad.mse(image, np.zeros(tuple(image.shape) + (3,), np.float32), loss)
        grads[flag] = [params.grad(k).copy() for k in keys]
    return grads


def test_packets_are_the_default_driver_on_cpu_only(monkeypatch):
    """16-ray packets are a CPU design: on CUDA one ray per thread is the default; TR_PACKETS
    overrides the choice either way."""
    monkeypatch.delenv("TR_PACKETS", raising=False)
    assert renderer.packets_enabled("cpu") and not renderer.packets_enabled("cuda")
    assert renderer.packets_enabled() == (tr.backend.current_arch() == "cpu")
    monkeypatch.setenv("TR_PACKETS", "1")
    assert renderer.packets_enabled("cuda")
    monkeypatch.setenv("TR_PACKETS", "0")
    assert not renderer.packets_enabled("cpu")


def assert_same_image(a, b, rel=1e-4):
    """Equal up to float rounding: tiny differences almost everywhere, none large."""
    scale = max(float(np.abs(a).mean()), 1e-6)
    diff = np.abs(a - b)
    assert np.mean(diff > rel * 10 * scale) < 0.002, "too many pixels differ"
    assert diff.mean() < rel * scale


@pytest.mark.parametrize("scene_file", ["cbox.xml", "cbox_rectangles.xml", "glass_sphere.xml", "furnace.xml"])
def test_packet_image_equals_per_ray_image(monkeypatch, scenes_dir, scene_file):
    # cbox*: the diffuse SIMD path; glass_sphere (dielectric, conductor, textures, spheres) and
    # the furnace: the per-lane path inside packets
    scene = tr.load_file(scenes_dir / scene_file, res=32)
    a, b = render_both(monkeypatch, scene, spp=5, seed=3)
    assert a.mean() > 0.0
    assert_same_image(a, b)


def test_packet_image_unbounded_depth_and_gaussian_filter(monkeypatch, scenes_dir):
    # max_depth -1 with Russian roulette, and a Gaussian filter splatting across pixels
    scene = tr.load_file(scenes_dir / "cbox.xml", res=24, max_depth=-1)
    sensor = scene.sensors()[0]
    assert sensor.film().rfilter.type_name == "box"
    a, b = render_both(monkeypatch, scene, spp=3, seed=1)
    assert_same_image(a, b)
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=20, height=16, rfilter={"type": "gaussian"})
    scene = tr.load_dict(d)
    a, b = render_both(monkeypatch, scene, spp=7, seed=2)
    assert_same_image(a, b)


def test_packet_samples_never_straddle_threads(scenes_dir):
    # spp values that do not divide 16: still bitwise deterministic
    scene = tr.load_file(scenes_dir / "cbox.xml", res=20)
    for spp in (3, 20):
        a = tr.render(scene, spp=spp, seed=4).to_numpy()
        b = tr.render(scene, spp=spp, seed=4).to_numpy()
        assert np.array_equal(a, b)


def test_box_filtered_film_is_overwritten_by_the_next_render(monkeypatch, scenes_dir):
    # packets write a render's first samples over the buffers instead of clearing them first
    from taichi_render.render.renderer import film_buffers

    scene = tr.load_file(scenes_dir / "cbox.xml", res=20)
    tr.render(scene, spp=4, seed=1)
    b = tr.render(scene, spp=3, seed=2).to_numpy()
    assert np.array_equal(film_buffers(scene.sensors()[0]).weight.to_numpy(), np.full((20, 20), 3.0, np.float32))
    tr.render(scene, spp=17, seed=7)
    c = tr.render(scene, spp=3, seed=2).to_numpy()
    assert np.array_equal(b, c)
    monkeypatch.setenv("TR_PACKETS", "0")  # cleared buffers, one ray per thread
    assert_same_image(tr.render(scene, spp=3, seed=2).to_numpy(), b)


def test_packets_of_one_pixel_add_their_sum_to_the_film(monkeypatch, scenes_dir):
    # spp 16 and 48: every packet holds samples of one pixel, whose sum goes to the box-filtered
    # film at once (the first packet of a pixel replaces the buffers' contents, later ones add)
    from taichi_render.render.renderer import film_buffers

    scene = tr.load_file(scenes_dir / "cbox.xml", res=12)
    for spp in (16, 48):
        a, b = render_both(monkeypatch, scene, spp=spp, seed=4)
        assert a.mean() > 0.0
        assert_same_image(a, b)
        weights = film_buffers(scene.sensors()[0]).weight.to_numpy()
        assert np.array_equal(weights, np.full((12, 12), float(spp), np.float32))
    tr.render(scene, spp=16, seed=9)
    again = tr.render(scene, spp=48, seed=4).to_numpy()
    assert np.array_equal(again, b)


@pytest.mark.portable
def test_packet_gradients_equal_per_ray_gradients(monkeypatch, scenes_dir):
    scene = tr.load_file(scenes_dir / "cbox.xml", res=24)
    params = tr.traverse(scene)
    key = "red.reflectance.value"
    light = next(k for k in params if k.endswith("radiance.value"))
    grads = gradients_both(monkeypatch, scene, params, [key, light], spp=4)
    for a, b in zip(grads["0"], grads["1"]):
        assert np.all(np.abs(a) > 0)
        np.testing.assert_allclose(a, b, rtol=2e-4)


def open_box_under_sky(kind):
    """The Cornell box (diffuse triangles) with an environment emitter: rays that leave through
    the open front end on the sky, inside packets on the diffuse SIMD path."""
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=20, height=20)
    rng = np.random.default_rng(5)
    if kind == "constant":
        d["sky"] = {"type": "constant", "radiance": {"type": "rgb", "value": [0.3, 0.5, 0.9]}}
    else:
        d["sky"] = {"type": "envmap", "data": rng.uniform(0.2, 2.0, (8, 16, 3)).astype(np.float32)}
    d["integrator"] = {"type": "prb", "max_depth": 4}
    return tr.load_dict(d)


@pytest.mark.parametrize("kind", ["constant", "envmap"])
def test_packets_with_environment_emitter_equal_per_ray(monkeypatch, kind):
    scene = open_box_under_sky(kind)
    a, b = render_both(monkeypatch, scene, spp=6, seed=2)
    assert_same_image(a, b)
    params = tr.traverse(scene)
    sky = next(k for k in params if k.startswith("sky."))
    grads = gradients_both(monkeypatch, scene, params, ["red.reflectance.value", sky], spp=4)
    forward = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("TR_PACKETS", flag)
        tangent = np.ones_like(params[sky])
        forward[flag] = tr.render_forward(scene, params, sky, tangent, spp=3, seed=4).to_numpy()
    for g0, g1 in zip(grads["0"], grads["1"]):
        assert np.abs(g0).max() > 0
        np.testing.assert_allclose(g1, g0, rtol=2e-4, atol=2e-4 * np.abs(g0).max())
    assert forward["1"].mean() > 0
    assert_same_image(forward["0"], forward["1"])


def test_packets_with_several_textured_emitters_equal_per_ray(monkeypatch):
    # emitter sampling on all lanes with two triangle-mesh emitters, one with a bitmap radiance
    # looked up at the sampled point's uv; a white wall with a bitmap reflectance
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=20, height=20)
    rng = np.random.default_rng(7)
    d["second-light"] = {
        "type": "rectangle",
        "to_world": tr.ScalarTransform4f().translate([0.0, 0.3, -0.9]).scale(0.25),
        "bsdf": {"type": "ref", "id": "white"},
        "emitter": {"type": "area", "radiance": {"type": "bitmap", "data": rng.uniform(0.5, 6.0, (4, 4, 3))}},
    }
    d["back"]["bsdf"] = {"type": "diffuse",
                         "reflectance": {"type": "bitmap", "data": rng.uniform(0.2, 0.9, (8, 8, 3))}}
    scene = tr.load_dict(d)
    a, b = render_both(monkeypatch, scene, spp=6, seed=2)
    assert_same_image(a, b)
    params = tr.traverse(scene)
    keys = ["second-light.emitter.radiance.data", "back.bsdf.reflectance.data", "light.emitter.radiance.value"]
    grads = gradients_both(monkeypatch, scene, params, keys, spp=4)
    for g0, g1 in zip(grads["0"], grads["1"]):
        assert np.abs(g0).max() > 0
        np.testing.assert_allclose(g1, g0, rtol=2e-3, atol=2e-4 * np.abs(g0).max())


def test_packets_with_one_textured_rectangle_light_equal_per_ray(monkeypatch):
    # a single emitter of few triangles is sampled on all lanes (packet_emitters.py), here with a
    # bitmap radiance looked up at the uv of the sampled point
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=20, height=20)
    data = np.random.default_rng(9).uniform(2.0, 30.0, (4, 4, 3))
    d["light"]["emitter"] = {"type": "area", "radiance": {"type": "bitmap", "data": data}}
    scene = tr.load_dict(d)
    a, b = render_both(monkeypatch, scene, spp=6, seed=2)
    assert_same_image(a, b)
    params = tr.traverse(scene)
    keys = ["light.emitter.radiance.data", "red.reflectance.value"]
    grads = gradients_both(monkeypatch, scene, params, keys, spp=4)
    for g0, g1 in zip(grads["0"], grads["1"]):
        assert np.abs(g0).max() > 0
        np.testing.assert_allclose(g1, g0, rtol=2e-3, atol=2e-4 * np.abs(g0).max())


@pytest.mark.parametrize("triangles", [3, 4, 5])
def test_packets_with_a_light_of_unequal_triangles_equal_per_ray(monkeypatch, tmp_path, triangles):
    # a light of 3 or 4 triangles of different areas (each lane picks one by the area CDF and
    # gets its corners and uvs by selects), and of 5 (one emitter of more triangles: per lane)
    angles = np.sort(np.random.default_rng(triangles).uniform(0.0, 2.0 * np.pi, triangles))
    lines = ["v 0 0 0", "vt 0.5 0.5"]
    for k, a in enumerate(angles):
        lines += [f"v {0.3 * np.cos(a):.5f} {0.3 * np.sin(a):.5f} 0", f"vt {k / triangles:.4f} 1"]
    lines += [f"f 1/1 {k + 2}/{k + 2} {(k + 1) % triangles + 2}/{(k + 1) % triangles + 2}" for k in range(triangles)]
    (tmp_path / "light.obj").write_text("\n".join(lines) + "\n")
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=16, height=16)
    d["light"] = {
        "type": "obj", "filename": str(tmp_path / "light.obj"),
        "to_world": tr.ScalarTransform4f().translate([0.0, 0.99, 0.0]).rotate([1, 0, 0], 90),
        "bsdf": {"type": "ref", "id": "white"},
        "emitter": {"type": "area", "radiance": {"type": "bitmap",
                                                  "data": np.random.default_rng(3).uniform(5.0, 40.0, (4, 4, 3))}},
    }
    scene = tr.load_dict(d)
    a, b = render_both(monkeypatch, scene, spp=6, seed=5)
    assert a.mean() > 0.0
    assert_same_image(a, b)


def test_packets_on_a_smooth_mesh_equal_per_ray(monkeypatch, tmp_path):
    # interpolated vertex normals on the SIMD path: an octahedron from a file without normals
    # (smooth normals, unlike the flat ones of rectangles and cubes) fills much of the view
    lines = ["v 1 0 0", "v -1 0 0", "v 0 1 0", "v 0 -1 0", "v 0 0 1", "v 0 0 -1"]
    lines += ["f 1 3 5", "f 3 2 5", "f 2 4 5", "f 4 1 5", "f 3 1 6", "f 2 3 6", "f 4 2 6", "f 1 4 6"]
    (tmp_path / "octahedron.obj").write_text("\n".join(lines) + "\n")
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=16, height=16)
    d["gem"] = {"type": "obj", "filename": str(tmp_path / "octahedron.obj"),
                "to_world": tr.ScalarTransform4f().translate([0.0, 0.0, 0.3]).scale(0.45),
                "bsdf": {"type": "ref", "id": "white"}}
    scene = tr.load_dict(d)
    data = scene_data(scene)
    gem = next(k for k, shape in enumerate(data.shapes) if shape.id == "gem")
    assert data.np["shape_i"][gem, L.SI_HAS_NORMALS] == L.NORMALS_VERTEX
    a, b = render_both(monkeypatch, scene, spp=6, seed=8)
    assert a.mean() > 0.0
    assert_same_image(a, b)


def test_packet_vertex_gradients_use_the_per_lane_path(monkeypatch, scenes_dir):
    # vertex-position terms are computed by the per-lane code inside packets
    scene = tr.load_file(scenes_dir / "cbox_rectangles.xml", res=16)
    params = tr.traverse(scene)
    key = next(k for k in params if k.endswith("vertex_positions"))
    grads = {flag: g for flag, (g,) in gradients_both(monkeypatch, scene, params, [key], spp=2).items()}
    assert np.abs(grads["1"]).max() > 0
    np.testing.assert_allclose(grads["0"], grads["1"], rtol=1e-3, atol=1e-6 * np.abs(grads["0"]).max())


def test_packet_forward_mode_equals_per_ray(monkeypatch, scenes_dir):
    scene = tr.load_file(scenes_dir / "cbox.xml", res=24)
    params = tr.traverse(scene)
    out = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("TR_PACKETS", flag)
        out[flag] = tr.render_forward(scene, params, "red.reflectance.value", [1.0, 1.0, 1.0], spp=4,
                                      seed=3).to_numpy()
    assert out["1"].mean() > 0
    assert_same_image(out["0"], out["1"])


@ti.func
def _trace_packet_and_rays(sc: ti.template(), k: ti.i32, ro: ti.template(), rd: ti.template(), tmax: ti.template(),
                           out: ti.template(), any_hit: ti.template()):
    ox, oy, oz, dx, dy, dz, tm = VF(0.0), VF(0.0), VF(0.0), VF(0.0), VF(0.0), VF(0.0), VF(0.0)
    for l in ti.static(range(LANES)):
        i = k * LANES + l
        ox[l], oy[l], oz[l] = ro[i].x, ro[i].y, ro[i].z
        dx[l], dy[l], dz[l] = rd[i].x, rd[i].y, rd[i].z
        tm[l] = tmax[i]
    t, p, b1, b2 = trace_packet(sc, ox, oy, oz, dx, dy, dz, tm, any_hit)
    for l in ti.static(range(LANES)):
        i = k * LANES + l
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = t[l], ti.cast(p[l], ti.f32), b1[l], b2[l]
        if tmax[i] >= 0.0:
            h = trace(sc, ro[i], rd[i], tmax[i], any_hit)
            out[i, 4], out[i, 5], out[i, 6], out[i, 7] = h.t, ti.cast(h.prim, ti.f32), h.b1, h.b2


@ti.kernel
def _trace_both(scene: SceneArrays, ro: V3_1, rd: V3_1,
                tmax: F_1, out: ti.types.ndarray(dtype=ti.f32, ndim=2), any_hit: ti.template()):
    for k in range(ro.shape[0] // LANES):
        _trace_packet_and_rays(
            SceneView(ALL_FEATURES, scene),
            k, ro, rd, tmax, out, any_hit,
        )


def cubes_scene(count=60, seed=5, spheres=0):
    """The Cornell box with `count` small cubes (and `spheres` small spheres) in it: a BVH
    several levels deep."""
    rng = np.random.default_rng(seed)
    d = tr.cornell_box()
    for k in range(count):
        m = np.diag([*rng.uniform(0.02, 0.12, 3), 1.0])
        m[:3, 3] = rng.uniform(-0.8, 0.8, 3)
        d[f"cube_{k}"] = {"type": "cube", "to_world": tr.ScalarTransform4f(m), "bsdf": {"type": "ref", "id": "white"}}
    for k in range(spheres):
        d[f"sphere_{k}"] = {"type": "sphere", "center": rng.uniform(-0.8, 0.8, 3).tolist(),
                            "radius": float(rng.uniform(0.02, 0.1)), "bsdf": {"type": "ref", "id": "white"}}
    return tr.load_dict(d)


def brute_force_t(data, origins, dirs, tmax):
    """Closest triangle hit distance per ray over every triangle (numpy, float64); INF: none."""
    tri = data.np["tri_p"].astype(np.float64)
    p0, e1, e2 = tri[:, 0], tri[:, 1], tri[:, 2]
    best = np.full(len(origins), INF)
    for i, (o, d) in enumerate(zip(origins, dirs)):
        p = np.cross(d, e2)
        det = np.einsum("ij,ij->i", e1, p)
        inv = 1.0 / np.where(det != 0.0, det, 1.0)
        s = o - p0
        b1 = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1)
        b2 = (q @ d) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        ok = (det != 0) & (b1 >= 0) & (b2 >= 0) & (b1 + b2 <= 1) & (t > 0) & (t < tmax[i])
        if ok.any():
            best[i] = t[ok].min()
    return best


@pytest.mark.parametrize("scene_file", ["cbox.xml", "glass_sphere.xml", "cubes", "cubes_and_spheres"])
def test_trace_packet_matches_scalar_traversal(scenes_dir, scene_file):
    # triangles (cbox: one BVH leaf; 60 cubes in the box: many levels), analytic spheres and
    # disks (glass_sphere; cubes and spheres: leaves that hold lone primitives and triangle
    # pairs); random rays from inside the scene bounds and from outside; inactive lanes
    # (tmax < 0) find nothing; triangle scenes against brute force
    if scene_file.startswith("cubes"):
        scene = cubes_scene(spheres=40 if scene_file == "cubes_and_spheres" else 0)
    else:
        scene = tr.load_file(scenes_dir / scene_file, res=8)
    data = scene_data(scene)
    if scene_file.startswith("cubes"):
        n_nodes = data.np["scene_i"][L.SC_NUM_NODES]
        assert n_nodes > 15
        if scene_file == "cubes_and_spheres":
            codes = data.np["node_i"][n_nodes:, 0]
            mixed = [(codes[a : a + c] == 0).any() and (codes[a : a + c] > 0).any()
                     for a, c in data.np["node_i"][:n_nodes] if c > 0]
            assert sum(mixed) >= 3
    rng = np.random.default_rng(0)
    n = 64 * LANES
    lo, hi = data.np["node_box"][0, 0], data.np["node_box"][0, 1]
    origins = lo + (hi - lo) * rng.uniform(-0.3, 1.3, (n, 3))
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    tmax = np.where(rng.random(n) < 0.1, -1.0, np.where(rng.random(n) < 0.3, 0.5, INF)).astype(np.float32)
    ro = ti.ndarray(ti.math.vec3, n)
    rd = ti.ndarray(ti.math.vec3, n)
    tm = ti.ndarray(ti.f32, n)
    ro.from_numpy(origins.astype(np.float32))
    rd.from_numpy(dirs.astype(np.float32))
    tm.from_numpy(tmax)
    out = ti.ndarray(ti.f32, (n, 8))
    for any_hit in (False, True):
        with megakernel_compile():
            _trace_both(data.arrays(), ro, rd, tm, out, any_hit)
        r = out.to_numpy()
        active = tmax >= 0
        assert np.all(r[~active, 1] == -1)
        hit_p, hit_s = r[active, 1] >= 0, r[active, 5] >= 0
        assert 0.05 < hit_s.mean() < 1.0
        if any_hit:
            assert np.array_equal(hit_p, hit_s)
        else:
            assert np.mean(r[active, 1] == r[active, 5]) > 0.999
            same = r[active, 1] == r[active, 5]
            np.testing.assert_allclose(r[active][same][:, [0, 2, 3]], r[active][same][:, [4, 6, 7]],
                                       rtol=1e-5, atol=1e-5)
            if scene_file in ("cbox.xml", "cubes"):
                expected = brute_force_t(data, origins[active], dirs[active], tmax[active])
                found = np.where(r[active, 1] >= 0, r[active, 0], INF)
                assert np.mean(np.isclose(found, expected, rtol=1e-4, atol=1e-5)) > 0.999
