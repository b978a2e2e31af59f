"""Forward rendering throughput: Cornell box 256x256, `path` max_depth 3, Msamples/s at
spp 1, 16, 64 (median of 5 after warm-up, in 3 processes per renderer that alternate with
Mitsuba 3's when it is installed: common.worker_results).

Also times the one-ray-per-thread kernels (TR_PACKETS=0), which the ray packets replaced."""

from __future__ import annotations

import json
import sys

import numpy as np
from common import markdown_table, median_of, median_seconds, mitsuba, worker_results

RES = 256
SPPS = (1, 16, 64)
ROUNDS = 3


def cbox_dict():
    import taichi_render as tr

    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    return d


def worker(kind: str) -> dict:
    """Msamples/s per spp of one renderer, in this process: median of 5 after a warm-up."""
    if kind == "mitsuba":
        mi = mitsuba()
        d = cbox_dict()
        # our transforms -> Mitsuba's
        for value in d.values():
            if isinstance(value, dict) and "to_world" in value:
                value["to_world"] = mi.ScalarTransform4f(np.asarray(value["to_world"].matrix).tolist())
        d["sensor"]["to_world"] = mi.ScalarTransform4f(np.asarray(d["sensor"]["to_world"].matrix).tolist())
        scene = mi.load_dict(d)

        def render(spp):
            return np.array(mi.render(scene, spp=spp))  # reading back synchronises Dr.Jit
    else:
        import os

        os.environ["TR_PACKETS"] = "1" if kind == "packets" else "0"
        import taichi_render as tr

        tr.init()
        scene = tr.load_dict(cbox_dict())

        def render(spp):
            return tr.render(scene, spp=spp).to_numpy()
    return {str(spp): RES * RES * spp / median_seconds(lambda spp=spp: render(spp)) / 1e6 for spp in SPPS}


def main():
    kinds = ["packets", "one_ray"] + (["mitsuba"] if mitsuba() is not None else [])
    results = worker_results(__file__, kinds, ROUNDS)
    rate = {kind: {spp: median_of(results[kind], spp) for spp in SPPS} for kind in kinds}
    has_mitsuba = "mitsuba" in rate
    rows = []
    for spp in SPPS:
        row = [spp, f"{rate['packets'][spp]:.2f}", f"{rate['one_ray'][spp]:.2f}"]
        if has_mitsuba:
            row += [f"{rate['mitsuba'][spp]:.2f}", f"{rate['packets'][spp] / rate['mitsuba'][spp]:.2f}x"]
        rows.append(row)
    header = ["spp", "taichi_render Msamples/s", "one ray per thread"]
    header += ["Mitsuba 3 Msamples/s", "ratio"] if has_mitsuba else []
    print(f"Forward, Cornell box {RES}x{RES}, path max_depth 3, median of {ROUNDS} alternating processes"
          + ("" if has_mitsuba else " (Mitsuba 3 not installed)"))
    print(markdown_table(header, rows))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(sys.argv[2])))
    else:
        main()
