"""Check and time taichi_render on a CUDA GPU: run it on the first machine that has one.

    python benchmarks/gpu_check.py [--res 256] [--spp 64]

What it checks, each printed as PASS or FAIL (exit status 1 on any FAIL):

1. `tr.init("cuda")` gives CUDA, and the default driver there is one ray per thread
   (`renderer.packets_enabled()` is False: 16-ray packets are a CPU design).
2. The Cornell box (`path`, max_depth 3) agrees with the Mitsuba 3 reference kept in
   tests/reference/cbox (channel means within 2 %, rendered at 256x256).
3. Both drivers (one ray per thread, then TR_PACKETS=1) give the same image statistics.
4. The reverse-mode gradient of an MSE loss with respect to `red.reflectance.value` agrees with
   a central finite difference of the same estimator (same seeds) to 2 %.

Then it times, for each driver: the first render (compile included), renders per second and
samples per second at --res/--spp, and the red-wall inversion step (render + MSE + adjoint).

Without a CUDA device it says so and exits with status 0, having checked nothing.
"""

import argparse
import ctypes.util
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "cbox" / "cbox_path_d3_spp8192_256.npy"
KEY = "red.reflectance.value"
failures = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    if not ok:
        failures.append(name)


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls of fn (which must synchronise)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--res", type=int, default=256)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    if ctypes.util.find_library("cuda") is None:
        print("gpu_check: no CUDA driver on this machine (libcuda not found); nothing checked")
        return 0
    import taichi as ti

    import taichi_render as tr
    from taichi_render.render import renderer

    arch = tr.init("auto")
    if arch != "cuda":
        print("gpu_check: a CUDA driver is present but Taichi found no usable device; nothing checked")
        return 0
    check("arch", arch == "cuda", f"tr.init('auto') -> {arch!r}")
    check("default driver", not renderer.packets_enabled(), "one ray per thread on CUDA")

    def cbox(res, integrator=None):
        d = tr.cornell_box()
        d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = res
        d["integrator"] = integrator or {"type": "path", "max_depth": 3}
        return tr.load_dict(d)

    scene = cbox(256)
    reference = np.load(REFERENCE)
    means = {}
    for driver in ("0", "1"):
        os.environ["TR_PACKETS"] = driver
        t = time.perf_counter()
        image = tr.render(scene, spp=1024, seed=1).to_numpy()
        first = time.perf_counter() - t
        means[driver] = image.reshape(-1, 3).mean(0)
        rel = np.abs(means[driver] / reference.reshape(-1, 3).mean(0) - 1).max()
        name = "packets" if driver == "1" else "one ray"
        check(f"Mitsuba reference ({name})", rel < 0.02, f"channel means {means[driver]}, worst {rel:.2%} "
              f"(first render {first:.1f} s incl. compile)")
    rel = np.abs(means["0"] / means["1"] - 1).max()
    check("drivers agree", rel < 0.01, f"channel means differ by {rel:.2%}")
    os.environ.pop("TR_PACKETS")

    small = cbox(64, {"type": "prb", "max_depth": 3})
    params = tr.traverse(small)
    target = np.full((64, 64, 3), 0.1, np.float32)
    params.enable_grad([KEY])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        tr.ad.mse(tr.render(small, params, spp=16, seed=3, seed_grad=3), target, out=loss)
    grad = params.grad(KEY)[0]
    x0 = params[KEY].copy()
    values = []
    for sign in (1, -1):
        params[KEY] = x0 + sign * np.array([1e-2, 0, 0], np.float32)
        params.update()
        image = tr.render(small, params, spp=16, seed=3).to_numpy()
        values.append(float(np.mean((image - target) ** 2)))
    params[KEY] = x0
    params.update()
    fd = (values[0] - values[1]) / 2e-2
    check("reverse mode vs finite differences", abs(grad / fd - 1) < 0.02, f"adjoint {grad:.6g}, FD {fd:.6g}")

    print(f"\ntimings at {args.res}x{args.res}, spp {args.spp} (median of {args.repeats})")
    timed_scene = cbox(args.res, {"type": "prb", "max_depth": 3})
    step_params = tr.traverse(timed_scene)
    step_params.enable_grad([KEY])
    step_target = np.full((args.res, args.res, 3), 0.1, np.float32)
    step_loss = tr.ad.loss_field()
    for driver in ("0", "1"):
        os.environ["TR_PACKETS"] = driver
        name = "packets" if driver == "1" else "one ray"
        t = time.perf_counter()
        tr.render(timed_scene, spp=args.spp).to_numpy()
        first = time.perf_counter() - t

        def render_once():
            tr.render(timed_scene, spp=args.spp)
            ti.sync()

        def inversion_step():
            with ti.ad.Tape(loss=step_loss):
                tr.ad.mse(tr.render(timed_scene, step_params, spp=1), step_target, out=step_loss)
            ti.sync()

        s = timed(render_once, args.repeats)
        inversion_step()  # compiles the adjoint
        step = timed(inversion_step, args.repeats)
        samples = args.res * args.res * args.spp / s / 1e6
        print(f"  {name:8s} first {first:6.2f} s   render {s * 1e3:8.2f} ms   {samples:8.1f} Msamples/s"
              f"   inversion step (spp 1) {step * 1e3:8.2f} ms")
    os.environ.pop("TR_PACKETS")
    print(f"\n{len(failures)} check(s) failed" if failures else "\nall checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
