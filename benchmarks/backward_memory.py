"""Peak resident memory of a reverse-mode pass (primal + path-replay adjoint) at a given
max_depth, in a fresh process: `python benchmarks/backward_memory.py DEPTH [RES] [SPP]`.

Prints one line `depth=D peak_rss_mib=... compile_peak_mib=... backward_ms=...`. The first
iteration compiles the kernels (or loads them from the offline cache); the peak is then reset
(`/proc/self/clear_refs`) and `peak_rss_mib` is the peak of the following iterations: the memory
of the backward pass itself. `compile_peak_mib` is the process's peak before the reset. Path
replay keeps no per-vertex state, so the peak should not depend on the depth."""

from __future__ import annotations

import sys
import time


def peak_rss_mib() -> float:
    """VmHWM of this process (ru_maxrss would inherit the parent's peak across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak_rss() -> None:
    """Return freed heap memory to the system (the compiler's), then reset VmHWM to the current
    RSS (Linux: write 5 to /proc/self/clear_refs)."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main(depth: int, res: int = 256, spp: int = 1) -> None:
    import taichi as ti

    import taichi_render as tr

    tr.init("cpu")
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = res
    d["integrator"] = {"type": "prb", "max_depth": depth}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    params.enable_grad(["red.reflectance.value"])
    ref = tr.render(scene, spp=4, seed=1).to_numpy()
    loss = tr.ad.loss_field()
    times = []
    compile_peak = None
    for it in range(4):
        if it == 1:
            compile_peak = peak_rss_mib()
            reset_peak_rss()
        t0 = time.perf_counter()
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=spp, seed=it)
            tr.ad.mse(image, ref, out=loss)
        times.append(time.perf_counter() - t0)
    peak = peak_rss_mib()
    grad = params.grad("red.reflectance.value")
    print(f"depth={depth} peak_rss_mib={peak:.1f} compile_peak_mib={compile_peak:.1f} "
          f"backward_ms={1000 * min(times[1:]):.1f} grad={grad.tolist()}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
