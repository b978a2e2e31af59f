"""One rank of the data-parallel tests (launched by torchrun from test_data_parallel.py, or run
alone as the single-process reference): a few optimization steps of a cube's colour and vertex
positions seen from four views, in a ``ti.ad.Tape`` loop (gradients reduced with
``trt.distributed.all_reduce_gradients``) or a DistributedDataParallel torch loop. Rank 0 writes
the first step's gradients and the final values to the .npz file named on the command line."""

import argparse

import numpy as np
import taichi as ti
import torch

import taichi_render as tr
import taichi_render.torch as trt
from taichi_render.torch import distributed as trd

N_VIEWS, RES, SPP, STEPS = 4, 12, 2, 3
COLOUR, VERTS = "cube.bsdf.reflectance.value", "cube.vertex_positions"
KEYS = [COLOUR, VERTS]


def make_scene(colour):
    d = {"type": "scene", "integrator": {"type": "prb", "max_depth": 3},
         "cube": {"type": "cube", "to_world": tr.ScalarTransform4f().scale(0.5),
                  "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": colour}}},
         "light": {"type": "constant", "radiance": 1.0}}
    for i, sensor in enumerate(tr.cameras.fibonacci_sphere(N_VIEWS, radius=3.0, fov=40, res=RES)):
        d[f"view_{i}"] = sensor
    return tr.load_dict(d)


def targets():
    scene = make_scene([0.2, 0.7, 0.4])
    return [tr.render(scene, sensor=v, spp=16, seed=100 + v).to_numpy() for v in range(N_VIEWS)]


def tape_loop(scene, params, refs, sampler):
    opt = tr.ad.Adam(lr=0.05)
    for key in KEYS:
        opt[key] = params[key]
    params.update(opt)
    first = None
    for step in range(STEPS):
        views = sampler.views(step)
        loss = tr.ad.loss_field()
        with ti.ad.Tape(loss=loss):
            for v in views:
                image = tr.render(scene, params, sensor=v, seed=sampler.render_seed(step, v))
                tr.ad.mse(image, refs[v], out=loss)
        grads = trd.all_reduce_gradients(opt, op="sum")
        first = grads if first is None else first
        opt.step(gradients=grads)
        params.update(opt)
    return first, {key: params[key] for key in KEYS}


class Views(torch.nn.Module):
    """The scene's colour and vertex positions as parameters; forward: mean loss over views."""

    def __init__(self, scene, params, refs):
        super().__init__()
        self.layer = trt.RenderLayer(scene, KEYS, params=params)
        self.colour = torch.nn.Parameter(torch.from_numpy(params[COLOUR].copy()))
        self.verts = torch.nn.Parameter(torch.from_numpy(params[VERTS].copy()))
        self.refs = [torch.from_numpy(r) for r in refs]

    def forward(self, views, seeds):
        losses = [torch.mean((self.layer(**{COLOUR: self.colour, VERTS: self.verts}, sensor=v, seed=s)
                              - self.refs[v]) ** 2) for v, s in zip(views, seeds)]
        return torch.stack(losses).mean()


def ddp_loop(scene, params, refs, sampler):
    model = Views(scene, params, refs)
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if trd.world_size() > 1 else model
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for step in range(STEPS):
        views = sampler.views(step)
        opt.zero_grad()
        wrapped(views, [sampler.render_seed(step, v) for v in views]).backward()
        if first is None:
            first = {COLOUR: model.colour.grad.numpy().copy(), VERTS: model.verts.grad.numpy().copy()}
        opt.step()
    return first, {COLOUR: model.colour.detach().numpy(), VERTS: model.verts.detach().numpy()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["tape", "ddp"])
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    rank, world = trd.init_process_group(arch="cpu", threads=args.threads)
    refs = targets()
    scene = make_scene([0.5, 0.5, 0.5])
    params = tr.traverse(scene)
    sampler = trd.ViewSampler(N_VIEWS, views_per_step=2, seed=7)
    loop = tape_loop if args.mode == "tape" else ddp_loop
    first, final = loop(scene, params, refs, sampler)
    if rank == 0:
        np.savez(args.out, world=world, views=np.array(sampler.global_views(0)),
                 **{f"grad:{k}": v for k, v in first.items()}, **{f"final:{k}": v for k, v in final.items()})
    trd.destroy_process_group()


if __name__ == "__main__":
    main()
