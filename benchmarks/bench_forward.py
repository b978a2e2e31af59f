"""Forward rendering throughput: Cornell box 256x256, `path` max_depth 3, Msamples/s at
spp 1, 16, 64 (median of 5 after warm-up), with Mitsuba 3 in the same run when installed.

Also times the one-ray-per-thread kernels (TR_PACKETS=0), which the ray packets replaced."""

from __future__ import annotations

import numpy as np
from common import markdown_table, median_seconds, mitsuba

RES = 256
SPPS = (1, 16, 64)


def cbox_dict():
    import taichi_render as tr

    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    return d


def ours(packets: bool = True):
    import os

    import taichi_render as tr

    tr.init()
    scene = tr.load_dict(cbox_dict())
    out = {}
    os.environ["TR_PACKETS"] = "1" if packets else "0"
    try:
        for spp in SPPS:
            t = median_seconds(lambda: tr.render(scene, spp=spp).to_numpy())
            out[spp] = RES * RES * spp / t / 1e6
    finally:
        os.environ.pop("TR_PACKETS")
    return out


def theirs():
    mi = mitsuba()
    if mi is None:
        return None
    d = cbox_dict()
    # our transforms -> Mitsuba's
    for value in d.values():
        if isinstance(value, dict) and "to_world" in value:
            value["to_world"] = mi.ScalarTransform4f(np.asarray(value["to_world"].matrix).tolist())
    d["sensor"]["to_world"] = mi.ScalarTransform4f(np.asarray(d["sensor"]["to_world"].matrix).tolist())
    scene = mi.load_dict(d)
    out = {}
    for spp in SPPS:
        # reading the image back synchronises Dr.Jit's asynchronous queue
        t = median_seconds(lambda: np.array(mi.render(scene, spp=spp)))
        out[spp] = RES * RES * spp / t / 1e6
    return out


def main():
    a = ours()
    single = ours(packets=False)
    b = theirs()
    rows = []
    for spp in SPPS:
        row = [spp, f"{a[spp]:.2f}", f"{single[spp]:.2f}"]
        if b is not None:
            row += [f"{b[spp]:.2f}", f"{a[spp] / b[spp]:.2f}x"]
        rows.append(row)
    header = ["spp", "taichi_render Msamples/s", "one ray per thread"]
    header += ["Mitsuba 3 Msamples/s", "ratio"] if b else []
    print(f"Forward, Cornell box {RES}x{RES}, path max_depth 3" + ("" if b else " (Mitsuba 3 not installed)"))
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
