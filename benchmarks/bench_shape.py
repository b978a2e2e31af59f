"""A shape-optimization step: the Cornell box whose small box's vertex positions are optimized
(prb_projective, max_depth 3, 128x128, spp 16 with sppp = sppi = 16, Adam, synchronised):
render, MSE against a target where the box sits elsewhere, backward with every boundary term,
Adam step, params.update (normals, packing, BVH). ms per iteration, the seed changing every
iteration, and peak memory. When Mitsuba 3 is installed, its prb_projective runs the same step
on the same scene, spp and target (mi.ad.Adam, dr.sync_thread) in a process of its own, for
MI_ITERS steps after one warm-up step (each takes about a minute on a 2-core machine)."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
from common import markdown_table, median_of, mitsuba, worker_results

KEY = "small-box.vertex_positions"
RES = 128
SPP = 16
ITERS = 6
ROUNDS = 3
MI_ITERS = 2
TARGET_SHIFT = [0.05, 0.0, 0.03]  # where the target image's box sits, from the start


def cornell_box(tr, integrator):
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    d["integrator"] = integrator
    return tr.load_dict(d)


def timed_steps(step, iters: int) -> dict:
    """Time a first `step()` (compilation included), then `iters` more: the first step's seconds,
    the median step's ms and the process's peak resident memory (MB)."""
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"first_s": first, "step_ms": statistics.median(times) * 1e3,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def ours() -> dict:
    import taichi as ti

    import taichi_render as tr

    tr.init("cpu")
    target_scene = cornell_box(tr, {"type": "prb", "max_depth": 3})
    target_params = tr.traverse(target_scene)
    target_params[KEY] = target_params[KEY] + np.tile(TARGET_SHIFT, len(target_params[KEY]) // 3)
    target_params.update()
    target = tr.render(target_scene, spp=64, seed=99).to_numpy()

    scene = cornell_box(tr, {"type": "prb_projective", "max_depth": 3, "sppp": SPP, "sppi": SPP})
    params = tr.traverse(scene)
    opt = tr.ad.Adam(lr=0.005)
    opt[KEY] = params[KEY]
    params.update(opt)
    loss = tr.ad.loss_field()
    it = [0]

    def step():
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=SPP, seed=it[0])
            tr.ad.mse(image, target, out=loss)
        opt.step()
        params.update(opt)
        ti.sync()
        it[0] += 1

    return timed_steps(step, ITERS)


def theirs() -> dict:
    """Mitsuba 3's step on the same scene: prb_projective, the same target, mi.ad.Adam."""
    import drjit as dr

    mi = mitsuba()
    d = mi.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    d["integrator"] = {"type": "prb", "max_depth": 3}
    # optimize=False: Mitsuba 3.9 merges the meshes that share a BSDF (the two boxes) at load
    # otherwise, and the small box's key is gone
    target_scene = mi.load_dict(d, optimize=False)
    target_params = mi.traverse(target_scene)
    moved = dr.unravel(mi.Point3f, target_params[KEY]) + mi.Vector3f(*TARGET_SHIFT)
    target_params[KEY] = dr.ravel(moved)
    target_params.update()
    target = mi.render(target_scene, spp=64, seed=99)

    d["integrator"] = {"type": "prb_projective", "max_depth": 3, "sppp": SPP, "sppi": SPP}
    scene = mi.load_dict(d, optimize=False)
    params = mi.traverse(scene)
    opt = mi.ad.Adam(lr=0.005)
    opt[KEY] = params[KEY]
    params.update(opt)
    it = [0]

    def step():
        image = mi.render(scene, params, spp=SPP, seed=it[0])
        dr.backward(dr.mean(dr.square(image - target), axis=None))
        opt.step()
        params.update(opt)
        dr.sync_thread()
        it[0] += 1

    return timed_steps(step, MI_ITERS)


def main() -> None:
    if "--worker" in sys.argv:
        print(json.dumps(theirs() if sys.argv[-1] == "mitsuba" else ours()))
        return
    results = worker_results(__file__, ["ours"], rounds=ROUNDS)
    ours_ms = median_of(results["ours"], "step_ms")
    rows = [["taichi_render prb_projective", f"{ours_ms:.0f}", f"{median_of(results['ours'], 'first_s'):.1f}",
             f"{median_of(results['ours'], 'peak_mb'):.0f}", "1.00"]]
    if mitsuba() is None:
        rows.append(["Mitsuba 3 prb_projective (not installed here)", "", "", "", ""])
    else:
        try:
            theirs_result = worker_results(__file__, ["mitsuba"], rounds=1)["mitsuba"]
        except subprocess.CalledProcessError as error:
            # e.g. Dr.Jit 1.5 on LLVM 15 aborts compiling prb_projective ("Cannot select: fminimum")
            reason = [line for line in error.stderr.splitlines() if "ERROR" in line or "Error" in line][-1:]
            rows.append([f"Mitsuba 3 prb_projective: failed ({reason[0] if reason else error})", "", "", "", ""])
        else:
            theirs_ms = median_of(theirs_result, "step_ms")
            rows.append(["Mitsuba 3 prb_projective", f"{theirs_ms:.0f}", f"{median_of(theirs_result, 'first_s'):.1f}",
                         f"{median_of(theirs_result, 'peak_mb'):.0f}", f"{theirs_ms / ours_ms:.1f}"])
    print(f"Shape-optimization step, Cornell box small box, {RES}x{RES}, spp {SPP}, Adam "
          f"(median of {ITERS} steps, {ROUNDS} processes; Mitsuba: {MI_ITERS} steps, 1 process)")
    print(markdown_table(["renderer", "ms per step", "first step s", "peak RSS MB", "time / ours"], rows))


if __name__ == "__main__":
    main()
