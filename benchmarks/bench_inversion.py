"""The red-wall inversion loop (256x256, prb max_depth 3, spp 1, Adam lr 0.05): ms per
iteration of the native loop (ti.ad.Tape + tr.ad.Adam) and of the torch-driven loop
(taichi_render.torch + torch.optim.Adam), interleaved so that machine drift hits both alike;
with Mitsuba 3 (synchronised) in the same run when it is installed."""

from __future__ import annotations

import statistics
import time

import numpy as np

from common import markdown_table, mitsuba

KEY = "red.reflectance.value"
RES = 256
ITERS = 30


def native_loop(scene, ref):
    import taichi as ti

    import taichi_render as tr

    params = tr.traverse(scene)
    opt = tr.ad.Adam(lr=0.05)
    opt[KEY] = [0.01, 0.2, 0.9]
    params.update(opt)
    loss = tr.ad.loss_field()
    it = [0]

    def step():
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=1, seed=it[0])
            tr.ad.mse(image, ref, out=loss)
        opt.step()
        opt[KEY] = np.clip(opt[KEY], 0.0, 1.0)
        params.update(opt)
        it[0] += 1

    return step


def torch_loop(scene, ref):
    import torch

    import taichi_render as tr
    import taichi_render.torch as trt

    params = tr.traverse(scene)
    color = torch.tensor([0.01, 0.2, 0.9], requires_grad=True)
    opt = torch.optim.Adam([color], lr=0.05)
    ref_t = torch.from_numpy(ref)
    mse = torch.nn.MSELoss()
    it = [0]

    def step():
        opt.zero_grad()
        image = trt.render(scene, params, spp=1, seed=it[0], **{KEY: color})
        mse(image, ref_t).backward()
        opt.step()
        with torch.no_grad():
            color.clamp_(0.0, 1.0)
        it[0] += 1

    return step


def mitsuba_loop():
    mi = mitsuba()
    if mi is None:
        return None
    import drjit as dr

    scene = mi.load_dict(mi.cornell_box() | {"integrator": {"type": "prb", "max_depth": 3}})
    ref = mi.render(scene, spp=64)
    params = mi.traverse(scene)
    opt = mi.ad.Adam(lr=0.05)
    opt[KEY] = mi.Color3f(0.01, 0.2, 0.9)
    params.update(opt)
    it = [0]

    def step():
        image = mi.render(scene, params, spp=1, seed=it[0])
        loss = dr.mean(dr.square(image - ref), axis=None)
        dr.backward(loss)
        opt.step()
        opt[KEY] = dr.clip(opt[KEY], 0.0, 1.0)
        params.update(opt)
        dr.sync_thread()
        it[0] += 1

    return step


def main():
    import taichi_render as tr

    tr.init()
    d = tr.cornell_box()
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene_a = tr.load_dict(d)
    scene_b = tr.load_dict(d)
    ref = tr.render(scene_a, spp=64, seed=12345).to_numpy()
    steps = {"native": native_loop(scene_a, ref), "torch": torch_loop(scene_b, ref)}
    mi_step = mitsuba_loop()
    if mi_step is not None:
        steps["mitsuba"] = mi_step
    times = {k: [] for k in steps}
    for _ in range(3):  # warm-up
        for f in steps.values():
            f()
    for _ in range(ITERS):
        for name, f in steps.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    med = {k: 1000 * statistics.median(v) for k, v in times.items()}
    rows = [["taichi_render (ti.ad.Tape + tr.ad.Adam)", f"{med['native']:.1f}", "1.00"],
            ["taichi_render + torch.optim.Adam", f"{med['torch']:.1f}", f"{med['torch'] / med['native']:.3f}"]]
    if "mitsuba" in med:
        rows.append(["Mitsuba 3 (prb, mi.ad.Adam)", f"{med['mitsuba']:.1f}", f"{med['mitsuba'] / med['native']:.2f}"])
    print(f"Red-wall inversion {RES}x{RES}, spp 1, median of {ITERS} interleaved iterations"
          + ("" if "mitsuba" in med else " (Mitsuba 3 not installed)"))
    print(markdown_table(["loop", "ms / iteration", "ratio to native"], rows))


if __name__ == "__main__":
    main()
