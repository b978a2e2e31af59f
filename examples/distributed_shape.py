"""Shape optimization split over processes: tutorial 8's problem (a sphere recovers the blob
from 8 views, Large Steps, Adam), each rank rendering its share of the views.

Launch on one machine with 2 processes (each gets half the CPU cores)::

    torchrun --standalone --nproc_per_node=2 examples/distributed_shape.py

or alone (``python examples/distributed_shape.py``): the same run in one process. With the same
arguments, 1 and N ranks give the same vertices up to the order of float32 sums: every view is
rendered with the seed (iteration, view) and the per-rank gradients are summed.

Rank 0 prints the progress, writes ``--out`` (npz: loss and Chamfer curves, start and final
vertices) and,
with ``--preview``, shows the live preview (a window where one can open, else frames).
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
import torch

import taichi_render as tr
import taichi_render.torch as trt
from taichi_render.torch import distributed as trd

MESH = pathlib.Path(__file__).resolve().parent.parent / "scenes" / "meshes" / "blob.obj"
KEY = "shape.vertex_positions"
T = tr.ScalarTransform4f


def make_scene(views: int, res: int) -> tr.Scene:
    """The blob lit by two rectangles and a dim sky, seen by `views` cameras around it."""
    d = {"type": "scene", "integrator": {"type": "prb_projective", "max_depth": 2, "hide_emitters": True},
         "shape": {"type": "obj", "filename": str(MESH), "bsdf": {"type": "diffuse", "reflectance": 0.6}},
         "key": {"type": "rectangle", "to_world": T.look_at([2.5, 2.5, 1.5], [0, 0, 0], [0, 1, 0]).scale(0.8),
                 "emitter": {"type": "area", "radiance": 8.0}},
         "fill": {"type": "rectangle", "to_world": T.look_at([-2.0, -1.5, -2.0], [0, 0, 0], [0, 1, 0]).scale(0.8),
                  "emitter": {"type": "area", "radiance": 4.0}},
         "sky": {"type": "constant", "radiance": 0.25}}
    for i, sensor in enumerate(tr.cameras.fibonacci_sphere(views, radius=2.4, fov=35, res=res)):
        d[f"view_{i}"] = sensor
    return tr.load_dict(d)


def chamfer(a: torch.Tensor, b: torch.Tensor) -> float:
    """Symmetric Chamfer distance of two point sets (mean squared nearest distance)."""
    d = torch.cdist(a, b) ** 2
    return float(d.min(1).values.mean() + d.min(0).values.mean())


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--views", type=int, default=8, help="number of cameras (default 8)")
    p.add_argument("--views-per-step", type=int, default=None, help="views per iteration, all ranks (default all)")
    p.add_argument("--res", type=int, default=64, help="image width and height (default 64)")
    p.add_argument("--spp", type=int, default=4, help="samples per pixel per view and iteration (default 4)")
    p.add_argument("--iterations", type=int, default=120, help="optimization steps (default 120)")
    p.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate, halved every 40 steps")
    p.add_argument("--threads", type=int, default=None, help="Taichi threads per rank (default: cores / ranks)")
    p.add_argument("--log-every", type=int, default=10, help="print and measure Chamfer every N steps")
    p.add_argument("--out", type=pathlib.Path, default=None, help="npz written by rank 0")
    p.add_argument("--preview", action="store_true", help="live preview on rank 0")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    rank, world = trd.init_process_group(arch="cpu", threads=args.threads)
    sampler = trd.ViewSampler(args.views, views_per_step=args.views_per_step, seed=0, shuffle=False)

    target_scene = make_scene(args.views, args.res)
    targets = {v: torch.from_numpy(tr.render(target_scene, sensor=v, spp=128, seed=v).to_numpy())
               for v in range(args.views)}  # each rank makes the targets it may need
    target_vertices = tr.traverse(target_scene)[KEY].reshape(-1, 3)

    scene = make_scene(args.views, args.res)
    params = tr.traverse(scene)
    faces = params["shape.faces"]
    params[KEY] = (0.55 * target_vertices / np.linalg.norm(target_vertices, axis=1, keepdims=True)).ravel()
    params.update()  # start from a sphere (the normals follow)
    start = params[KEY].copy()

    ls = tr.ad.LargeSteps(params[KEY], faces, lambda_=19)
    opt = tr.ad.Adam(lr=args.lr)
    opt["u"] = ls.to_differential(params[KEY])
    target_points = torch.from_numpy(target_vertices.astype(np.float32))
    preview = tr.preview.Preview(targets[0]) if args.preview and rank == 0 else None
    history = {"loss": [], "chamfer": [], "chamfer_iterations": []}
    step_seconds = []  # the optimization step alone (renders, backward, all-reduce, Adam)
    for it in range(args.iterations):
        started = time.perf_counter()
        opt.set_learning_rate(args.lr * 0.5 ** (it // 40))
        u = torch.tensor(opt["u"], requires_grad=True)
        vertices = ls.from_differential(u)
        loss, shown = torch.zeros(()), None
        for v in sampler.views(it):
            image = trt.render(scene, params, sensor=v, spp=args.spp, seed=sampler.render_seed(it, v), **{KEY: vertices})
            loss = loss + torch.mean((image - targets[v]) ** 2)
            shown = image if v == 0 else shown
        loss.backward()
        grads = trd.all_reduce_gradients(opt, gradients={"u": u.grad}, op="sum")  # the sum over all views
        total = float(trd.all_reduce(loss))  # the loss over all views, for the log
        opt.step(gradients=grads)
        step_seconds.append(time.perf_counter() - started)
        if rank != 0:
            continue
        history["loss"].append(total)
        if preview is not None and shown is not None:
            preview.update(shown, loss=total, it=it, mesh=(vertices.detach(), faces))
        if it % args.log_every == 0 or it == args.iterations - 1:
            history["chamfer"].append(chamfer(vertices.detach().reshape(-1, 3), target_points))
            history["chamfer_iterations"].append(it)
            print(f"iteration {it:4d}  loss {total:.5f}  Chamfer {history['chamfer'][-1]:.5f}  "
                  f"step {step_seconds[-1]:.3f} s", flush=True)
    # the first step compiles (or loads) the kernels: the mean is over the later ones
    seconds = float(np.mean(step_seconds[1:] if len(step_seconds) > 1 else step_seconds))
    final = ls.from_differential(opt["u"])
    if rank == 0:
        print(f"{world} rank(s): {seconds:.3f} s per iteration, "
              f"{sampler.views_per_step / seconds:.1f} views/s; Chamfer {history['chamfer'][0]:.5f} -> "
              f"{history['chamfer'][-1]:.5f}")
        if args.out is not None:
            np.savez(args.out, world=world, **history,
                     vertices=np.asarray(final), start=start, seconds_per_iteration=seconds)
    if preview is not None:
        preview.close()
    trd.destroy_process_group()


if __name__ == "__main__":
    main()
