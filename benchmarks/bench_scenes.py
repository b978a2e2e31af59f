"""Forward throughput on varied scenes, side by side with Mitsuba 3 when it is installed.

Each scene is one dict that both renderers load (`scene_dict(name, T, assets)`, with `T` the
renderer's `ScalarTransform4f`), 256x256, spp 16, Mitsuba's default Gaussian film filter:

- `glass_texture`: an analytic glass sphere (dielectric) over a bitmap-textured twosided plane,
  lit by a constant environment, `path` max_depth 6;
- `cbox_depth8`: the reference Cornell box with `path` max_depth 8 (long paths);
- `metals_point`: analytic spheres of smooth conductor (Au) and rough conductor (Cu, GGX 0.2)
  on a rough plastic floor (GGX 0.3), a point light and a dim constant environment, max_depth 5;
- `mesh_small_light`: a smooth (vertex normals) sphere mesh of 20,480 triangles on a floor under a
  small spherical area light, max_depth 4;
- `envmap_plastic`: the smooth-shaded blob (5,120 triangles, normals computed at load) in
  plastic, under an environment map (64x128 EXR) and a point light, max_depth 4.

Msamples/s = width x height x spp / seconds / 1e6, median of 5 after a warm-up, in processes
that alternate between the renderers (common.worker_results); the mean of each image is printed
next to it so that a reader sees both rendered the same scene. Assets (the PLY mesh, the EXR
map) are written to a temporary folder by the parent process."""

from __future__ import annotations

import json
import math
import pathlib
import sys
import tempfile

import numpy as np
from common import markdown_table, median_of, median_seconds, mitsuba, worker_results

RES = 256
SPP = 16
ROUNDS = 3
ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENES = ("glass_texture", "cbox_depth8", "metals_point", "mesh_small_light", "envmap_plastic")


def _sensor(T, origin, target, up, fov):
    return {
        "type": "perspective",
        "fov": fov,
        "to_world": T().look_at(origin=origin, target=target, up=up),
        "film": {"type": "hdrfilm", "width": RES, "height": RES},
    }


def _rgb(v):
    return {"type": "rgb", "value": list(v)}


def _floor(T, y=-1.0, size=4.0, value=(0.5, 0.5, 0.5)):
    return {
        "type": "rectangle",
        "to_world": T().translate([0, y, 0]).rotate([1, 0, 0], -90).scale(size),
        "bsdf": {"type": "diffuse", "reflectance": _rgb(value)},
    }


def _cornell_box_depth8(T):
    import taichi_render as tr

    d = tr.cornell_box()
    d["integrator"]["max_depth"] = 8
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    d["sensor"]["to_world"] = T(np.asarray(d["sensor"]["to_world"].matrix).tolist())
    for value in d.values():
        if isinstance(value, dict) and "to_world" in value and value is not d["sensor"]:
            value["to_world"] = T(np.asarray(value["to_world"].matrix).tolist())
    return d


def scene_dict(name: str, T, assets: pathlib.Path) -> dict:
    """The scene `name` as a dict for the renderer whose transform class is `T`."""
    if name == "cbox_depth8":
        return _cornell_box_depth8(T)
    if name == "glass_texture":
        return {
            "type": "scene",
            "integrator": {"type": "path", "max_depth": 6},
            "sensor": _sensor(T, [0, 0, -2], [0, 0, 0], [0, -1, 0], 60),
            "textured_plane": {
                "type": "rectangle",
                "to_world": T().scale(1.2),
                "bsdf": {"type": "twosided", "bsdf": {"type": "diffuse", "reflectance": {
                    "type": "bitmap", "filename": str(ROOT / "scenes/textures/image_001.png")}}},
            },
            "glass_sphere": {
                "type": "sphere",
                "to_world": T().translate([0, 0, -1]).scale(0.45),
                "bsdf": {"type": "dielectric", "int_ior": 1.5},
            },
            "light": {"type": "constant", "radiance": _rgb((1, 1, 1))},
        }
    if name == "metals_point":
        return {
            "type": "scene",
            "integrator": {"type": "path", "max_depth": 5},
            "sensor": _sensor(T, [0, 1.0, 4.0], [0, -0.3, 0], [0, 1, 0], 45),
            "floor": {**_floor(T), "bsdf": {"type": "roughplastic", "distribution": "ggx", "alpha": 0.3,
                                             "diffuse_reflectance": _rgb((0.3, 0.35, 0.4))}},
            "gold": {"type": "sphere", "center": [-0.6, -0.4, 0], "radius": 0.6,
                     "bsdf": {"type": "conductor", "material": "Au"}},
            "copper": {"type": "sphere", "center": [0.7, -0.5, 0.3], "radius": 0.5,
                       "bsdf": {"type": "roughconductor", "material": "Cu", "distribution": "ggx",
                                "alpha": 0.2}},
            "lamp": {"type": "point", "position": [1.5, 2.5, 2.0], "intensity": _rgb((30, 30, 30))},
            "sky": {"type": "constant", "radiance": _rgb((0.2, 0.2, 0.25))},
        }
    if name == "mesh_small_light":
        return {
            "type": "scene",
            "integrator": {"type": "path", "max_depth": 4},
            "sensor": _sensor(T, [0, 0.5, 4.0], [0, -0.2, 0], [0, 1, 0], 40),
            "floor": _floor(T),
            "ball": {"type": "ply", "filename": str(assets / "sphere20k.ply"),
                     "to_world": T().translate([0, -0.2, 0]).scale(0.8),
                     "bsdf": {"type": "diffuse", "reflectance": _rgb((0.7, 0.6, 0.5))}},
            "bulb": {"type": "sphere", "center": [1.2, 1.6, 1.0], "radius": 0.1,
                     "emitter": {"type": "area", "radiance": _rgb((300, 300, 300))}},
        }
    if name == "envmap_plastic":
        return {
            "type": "scene",
            "integrator": {"type": "path", "max_depth": 4},
            "sensor": _sensor(T, [0, 0.6, 3.0], [0, 0, 0], [0, 1, 0], 40),
            "floor": _floor(T),
            "blob": {"type": "obj", "filename": str(ROOT / "scenes/meshes/blob.obj"),
                     "to_world": T().scale(0.8),
                     "bsdf": {"type": "plastic", "diffuse_reflectance": _rgb((0.2, 0.4, 0.7))}},
            "env": {"type": "envmap", "filename": str(assets / "sky.exr")},
            "lamp": {"type": "point", "position": [-1.5, 2.0, 1.5], "intensity": _rgb((10, 10, 10))},
        }
    raise ValueError(f"unknown scene {name!r}; expected one of {SCENES}")


def write_assets(folder: pathlib.Path) -> None:
    """sphere20k.ply (icosphere, 5 subdivisions, bumpy, with vertex normals) and sky.exr."""
    from plyfile import PlyData, PlyElement

    sys.path.insert(0, str(ROOT / "scenes/meshes"))
    from make_blob import icosphere

    v, f = icosphere(5)
    v = np.asarray(v, np.float64)
    theta = np.arctan2(v[:, 2], v[:, 0])
    v *= (1.0 + 0.04 * np.sin(6 * theta) * np.cos(5 * v[:, 1]))[:, None]
    f = np.asarray(f, np.int64)
    n = np.zeros_like(v)
    face_n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    for k in range(3):
        np.add.at(n, f[:, k], face_n)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    vertex = np.empty(len(v), [(c, "f4") for c in ("x", "y", "z", "nx", "ny", "nz")])
    for i, c in enumerate("xyz"):
        vertex[c] = v[:, i]
        vertex["n" + c] = n[:, i]
    face = np.empty(len(f), [("vertex_indices", "i4", (3,))])
    face["vertex_indices"] = f
    PlyData([PlyElement.describe(vertex, "vertex"), PlyElement.describe(face, "face")]).write(
        str(folder / "sphere20k.ply"))

    from taichi_render.io.bitmap import write_bitmap

    h, w = 64, 128
    theta = (np.arange(h) + 0.5) / h * math.pi
    phi = (np.arange(w) + 0.5) / w * 2 * math.pi
    sky = np.empty((h, w, 3), np.float32)
    up = np.cos(theta)[:, None] * np.ones(w)
    sky[..., 0] = 0.3 + 0.4 * np.clip(up, 0, 1)
    sky[..., 1] = 0.35 + 0.5 * np.clip(up, 0, 1)
    sky[..., 2] = 0.5 + 0.8 * np.clip(up, 0, 1)
    sun = np.exp(-((theta[:, None] - 0.6) ** 2 + (phi[None, :] - 2.0) ** 2) / 0.01)
    sky += 40.0 * sun[..., None].astype(np.float32)
    write_bitmap(folder / "sky.exr", sky)


def worker(kind: str, assets: str) -> dict:
    """{scene: [Msamples/s, image mean]} of one renderer, in this process."""
    assets = pathlib.Path(assets)
    if kind == "mitsuba":
        mi = mitsuba()

        def load(name):
            return mi.load_dict(scene_dict(name, mi.ScalarTransform4f, assets))

        def render(scene):
            return np.array(mi.render(scene, spp=SPP))  # reading back synchronises Dr.Jit
    else:
        import taichi_render as tr

        tr.init()

        def load(name):
            return tr.load_dict(scene_dict(name, tr.ScalarTransform4f, assets))

        def render(scene):
            return tr.render(scene, spp=SPP).to_numpy()
    out = {}
    for name in SCENES:
        scene = load(name)
        seconds = median_seconds(lambda scene=scene: render(scene))
        out[name] = [RES * RES * SPP / seconds / 1e6, float(np.mean(render(scene)[..., :3]))]
    return out


def main():
    kinds = ["ours"] + (["mitsuba"] if mitsuba() is not None else [])
    with tempfile.TemporaryDirectory() as tmp:
        write_assets(pathlib.Path(tmp))
        results = worker_results(__file__, kinds, ROUNDS, extra=[tmp])
    rows = []
    for name in SCENES:
        rate = {k: median_of([{"v": r[name][0]} for r in results[k]], "v") for k in kinds}
        mean = {k: results[k][0][name][1] for k in kinds}
        row = [name, f"{rate['ours']:.2f}", f"{mean['ours']:.4f}"]
        if "mitsuba" in kinds:
            row += [f"{rate['mitsuba']:.2f}", f"{mean['mitsuba']:.4f}", f"{rate['ours'] / rate['mitsuba']:.2f}x"]
        rows.append(row)
    header = ["scene", "taichi_render Msamples/s", "image mean"]
    header += ["Mitsuba 3 Msamples/s", "image mean", "ratio"] if "mitsuba" in kinds else []
    print(f"Forward, varied scenes {RES}x{RES} spp {SPP}, median of {ROUNDS} alternating processes"
          + ("" if "mitsuba" in kinds else " (Mitsuba 3 not installed)"))
    print(markdown_table(header, rows))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(sys.argv[2], sys.argv[3])))
    else:
        main()
