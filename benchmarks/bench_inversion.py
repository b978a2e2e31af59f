"""The red-wall inversion loop (256x256, prb max_depth 3, spp 1, Adam lr 0.05): ms per
iteration of the native loop (ti.ad.Tape + tr.ad.Adam) and of the torch-driven loop
(taichi_render.torch + torch.optim.Adam), measured two ways: interleaved iteration by iteration
in one process (machine drift hits both alike), and back to back as users run them (each loop
alone in a process of its own, the processes alternating; at 128x128 and 256x256). With
Mitsuba 3 (synchronised) in processes of its own when it is installed
(common.worker_results)."""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
from common import markdown_table, median_of, mitsuba, worker_results

KEY = "red.reflectance.value"
RES = 256
ITERS = 20
ROUNDS = 3


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


def worker(kind: str) -> dict:
    """Median ms per iteration, in this process: the native and torch loops interleaved
    (kind "taichi"), one loop alone (kinds "native@RES", "torch@RES"), or Mitsuba's loop
    (kind "mitsuba"); after 3 warm-up iterations."""
    if kind == "mitsuba":
        steps = {"mitsuba": mitsuba_loop()}
    else:
        import taichi_render as tr

        tr.init()
        loop, _, res = kind.partition("@")
        d = tr.cornell_box()
        d["integrator"] = {"type": "prb", "max_depth": 3}
        d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = int(res or RES)
        scene_a = tr.load_dict(d)
        scene_b = tr.load_dict(d)
        ref = tr.render(scene_a, spp=64, seed=12345).to_numpy()
        loops = {"native": lambda: native_loop(scene_a, ref), "torch": lambda: torch_loop(scene_b, ref)}
        steps = {name: make() for name, make in loops.items() if loop in ("taichi", name)}
    times = {k: [] for k in steps}
    for _ in range(3):  # warm-up
        for f in steps.values():
            f()
    for _ in range(ITERS):
        for name, f in steps.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {k: 1000 * statistics.median(v) for k, v in times.items()}


def main():
    kinds = ["taichi"] + (["mitsuba"] if mitsuba() is not None else [])
    results = worker_results(__file__, kinds, ROUNDS)
    med = {"native": median_of(results["taichi"], "native"), "torch": median_of(results["taichi"], "torch")}
    # the torch/native ratio is taken per process (the two loops alternate there), then the median
    torch_ratio = statistics.median(r["torch"] / r["native"] for r in results["taichi"])
    rows = [["taichi_render (ti.ad.Tape + tr.ad.Adam)", f"{med['native']:.1f}", "1.00"],
            ["taichi_render + torch.optim.Adam", f"{med['torch']:.1f}", f"{torch_ratio:.3f}"]]
    if "mitsuba" in results:
        med["mitsuba"] = median_of(results["mitsuba"], "mitsuba")
        rows.append(["Mitsuba 3 (prb, mi.ad.Adam)", f"{med['mitsuba']:.1f}", f"{med['mitsuba'] / med['native']:.2f}"])
    print(f"Red-wall inversion {RES}x{RES}, spp 1, median of {ITERS} iterations in {ROUNDS} alternating processes"
          + ("" if "mitsuba" in results else " (Mitsuba 3 not installed)"))
    print(markdown_table(["loop", "ms / iteration", "ratio to native"], rows))
    print()
    back_to_back()


def back_to_back():
    """Each loop alone in its process, as users run one of them; the processes alternate."""
    rows = []
    for res in (128, RES):
        kinds = [f"native@{res}", f"torch@{res}"]
        results = worker_results(__file__, kinds, ROUNDS)
        native = median_of(results[kinds[0]], "native")
        torch_ms = median_of(results[kinds[1]], "torch")
        rows.append([f"{res}x{res}", f"{native:.2f}", f"{torch_ms:.2f}", f"{torch_ms / native:.3f}"])
    print(f"Red-wall inversion run back to back: each loop alone in a process, median of {ITERS} iterations, "
          f"{ROUNDS} alternating processes per loop")
    print(markdown_table(["image", "native ms / iteration", "torch ms / iteration", "torch / native"], rows))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(sys.argv[2])))
    else:
        main()
