"""Scaling of the forward renderer (Cornell box, path max_depth 3): time against resolution,
samples per pixel and triangle count (a generated mesh in the box, 1k to 1M triangles). Prints
tables and plots them into docs/images/scaling.png."""

from __future__ import annotations

import pathlib
import time

import numpy as np
from common import markdown_table, median_seconds

ROOT = pathlib.Path(__file__).resolve().parents[1]


def cbox(res: int, extra=None):
    import taichi_render as tr

    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = res
    if extra is not None:
        d["mesh"] = extra
    return tr.load_dict(d)


def bumpy_sphere(n_triangles: int) -> dict:
    """A displaced UV sphere of about n_triangles triangles, radius 0.35, inside the box."""
    m = max(4, int(np.sqrt(n_triangles / 2)))
    theta = np.linspace(0, np.pi, m + 1)
    phi = np.linspace(0, 2 * np.pi, m + 1)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    r = 0.35 * (1 + 0.05 * np.sin(8 * t) * np.cos(8 * p))
    pos = np.stack([r * np.sin(t) * np.cos(p), r * np.cos(t) - 0.5, r * np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    idx = np.arange((m + 1) * (m + 1)).reshape(m + 1, m + 1)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return {"type": "ply_data", "positions": pos.astype(np.float32), "faces": faces.astype(np.int32)}


def mesh_plugin(spec):
    """A mesh dict for tr.load_dict from raw arrays, written to a temporary PLY file."""
    import tempfile

    from plyfile import PlyData, PlyElement

    vertex = np.array([tuple(v) for v in spec["positions"]], dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
    face = np.empty(len(spec["faces"]), dtype=[("vertex_indices", "i4", (3,))])
    face["vertex_indices"] = spec["faces"]
    with tempfile.NamedTemporaryFile(suffix=".ply", delete=False) as f:
        path = f.name
    PlyData([PlyElement.describe(vertex, "vertex"), PlyElement.describe(face, "face")]).write(path)
    return {"type": "ply", "filename": path, "bsdf": {"type": "ref", "id": "white"}}, len(spec["faces"])


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import taichi_render as tr

    tr.init()
    res_rows, spp_rows, tri_rows = [], [], []
    for res in (64, 128, 256, 512, 1024):
        scene = cbox(res)
        t = median_seconds(lambda scene=scene: tr.render(scene, spp=4).to_numpy(), repeats=3)
        res_rows.append((res, t))
    scene = cbox(256)
    for spp in (1, 4, 16, 64):
        t = median_seconds(lambda spp=spp: tr.render(scene, spp=spp).to_numpy(), repeats=3)
        spp_rows.append((spp, t))
    for n in (1_000, 10_000, 100_000, 1_000_000):
        plugin, count = mesh_plugin(bumpy_sphere(n))
        t0 = time.perf_counter()
        scene = cbox(128, plugin)
        tr.render(scene, spp=1).to_numpy()
        build = time.perf_counter() - t0
        t = median_seconds(lambda scene=scene: tr.render(scene, spp=4).to_numpy(), repeats=3)
        tri_rows.append((count + 36, t, build))
    print("Scaling (Cornell box, path depth 3)")
    print(markdown_table(["resolution", "ms (spp 4)", "ns / sample"],
                         [[f"{r}x{r}", f"{1000 * t:.0f}", f"{1e9 * t / (r * r * 4):.0f}"] for r, t in res_rows]))
    print()
    print(markdown_table(["spp", "ms (256x256)", "ns / sample"],
                         [[s, f"{1000 * t:.0f}", f"{1e9 * t / (256 * 256 * s):.0f}"] for s, t in spp_rows]))
    print()
    print(markdown_table(["triangles", "ms (128x128, spp 4)", "load + BVH + first render s"],
                         [[n, f"{1000 * t:.0f}", f"{b:.1f}"] for n, t, b in tri_rows]))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, rows, xlabel in ((axes[0], [(r * r, t) for r, t in res_rows], "pixels (spp 4)"),
                             (axes[1], spp_rows, "samples per pixel (256x256)"),
                             (axes[2], [(n, t) for n, t, _ in tri_rows], "triangles (128x128, spp 4)")):
        x, y = np.array(rows, dtype=float).T
        ax.loglog(x, 1000 * y, "o-")
        ax.set(xlabel=xlabel, ylabel="ms")
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "scaling.png", dpi=90)
    print(f"\nplot: {out / 'scaling.png'}")


if __name__ == "__main__":
    main()
