"""Long runs keep memory flat and never poison the optimization.

Each loop runs in a fresh interpreter (a script written to ``tmp_path``) so that the numbers are
not blurred by the test session: the process reads its resident set size (``VmRSS`` in
``/proc/self/status``) after warm-up and at the end, and writes everything to a JSON file next
to the script; the test prints it (visible with ``pytest -s``).

Memory: ``raw`` is VmRSS as it is; ``live`` is VmRSS after ``gc.collect()`` and glibc's
``malloc_trim(0)``, taken only after warm-up and at the end (a trim changes what the heap does
next). Without the trim at warm-up, glibc keeps the ~18 MB that kernel compilation freed
resident-but-free in the heap, and depending on thread timing the loop later touches those pages
again: raw RSS then grows by up to ~13 % over 1000 iterations and stops there, and
``malloc_trim`` gives all of it back. That is allocator slack, not a leak: the assertion compares
``live`` numbers, and the raw samples between them (no trim in between) show the loop itself
keeps RSS flat.

- native loop: the API page's red-wall inversion (16x16, spp 1, `prb`, ``tr.ad.Adam``,
  ``ti.ad.Tape``, ``tr.ad.mse``), 1000 iterations, the first 100 of them warm-up;
- torch loop: the same with ``taichi_render.torch.render`` and ``torch.optim.Adam``;
- 50 scenes: load (then load and render) 50 scenes one after another in one process.
Every iteration also checks that the loss, the gradient and the parameter are finite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.spawns  # run after the in-process tests (Makefile)

ITERATIONS = int(os.environ.get("TR_LONG_RUN_ITERATIONS", "1000"))
WARMUP = 100
MAX_GROWTH = 0.05

COMMON = textwrap.dedent(
    """
    import ctypes, gc, json, os, sys, time
    import numpy as np

    def vmrss_kb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    try:
        _trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        _trim = None

    def memory(trim=True):
        # VmRSS as it is ("raw") and, when trim, after returning free heap pages ("live")
        gc.collect()
        raw = vmrss_kb()
        if not trim:
            return {"raw_kb": raw}
        if _trim is not None:
            _trim(0)
        return {"raw_kb": raw, "live_kb": vmrss_kb()}

    import taichi as ti
    import taichi_render as tr
    tr.init(os.environ.get("TR_TEST_ARCH", "cpu"))
    out = sys.argv[1]
    """
)

RED_WALL = textwrap.dedent(
    """
    KEY = "red.reflectance.value"
    iterations, warmup = int(sys.argv[2]), int(sys.argv[3])
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 16
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    truth = params[KEY].copy()
    reference = tr.render(scene, spp=256, seed=12345).to_numpy()
    start = np.array([0.01, 0.2, 0.9], np.float32)
    params[KEY] = start
    params.update()
    result = {"iterations": iterations, "warmup": warmup, "samples": [],
              "error_start": float(np.sum((start - truth) ** 2))}
    """
)

NATIVE_LOOP = COMMON + RED_WALL + textwrap.dedent(
    """
    opt = tr.ad.Adam(lr=0.05)
    opt[KEY] = params[KEY]
    params.update(opt)
    loss = tr.ad.loss_field()
    t0 = time.perf_counter()
    for it in range(iterations):
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=1, seed=it)
            tr.ad.mse(image, reference, out=loss)
        grad = params.grad(KEY)
        if not (np.isfinite(loss[None]) and np.all(np.isfinite(grad))):
            sys.exit(f"iteration {it}: loss {loss[None]} gradient {grad}")
        opt.step()
        opt[KEY] = np.clip(opt[KEY], 0.0, 1.0)
        params.update(opt)
        if not np.all(np.isfinite(params[KEY])):
            sys.exit(f"iteration {it}: parameter {params[KEY]}")
        if it + 1 == warmup:
            result["after_warmup"] = memory()
            t1 = time.perf_counter()
        if (it + 1) % 100 == 0:
            result["samples"].append({"iteration": it + 1, **memory(trim=False)})
    result["end"] = memory()
    result["seconds"] = time.perf_counter() - t0
    result["ms_per_iteration_after_warmup"] = (
        1000 * (time.perf_counter() - t1) / (iterations - warmup))
    result["error_end"] = float(np.sum((params[KEY] - truth) ** 2))
    result["value_end"] = params[KEY].tolist()
    result["truth"] = truth.tolist()
    json.dump(result, open(out, "w"), indent=1)
    """
)

TORCH_LOOP = COMMON + RED_WALL + textwrap.dedent(
    """
    import torch
    import taichi_render.torch as trt
    torch.set_num_threads(1)
    color = torch.tensor(start, requires_grad=True)
    opt = torch.optim.Adam([color], lr=0.05)
    ref = torch.from_numpy(reference)
    t0 = time.perf_counter()
    for it in range(iterations):
        opt.zero_grad()
        image = trt.render(scene, params, spp=1, seed=it, **{KEY: color})
        loss = torch.nn.functional.mse_loss(image, ref)
        loss.backward()
        if not (torch.isfinite(loss) and torch.isfinite(color.grad).all()):
            sys.exit(f"iteration {it}: loss {loss} gradient {color.grad}")
        opt.step()
        with torch.no_grad():
            color.clamp_(0.0, 1.0)
        if not torch.isfinite(color).all():
            sys.exit(f"iteration {it}: parameter {color}")
        if it + 1 == warmup:
            result["after_warmup"] = memory()
            t1 = time.perf_counter()
        if (it + 1) % 100 == 0:
            result["samples"].append({"iteration": it + 1, **memory(trim=False)})
    result["end"] = memory()
    result["seconds"] = time.perf_counter() - t0
    result["ms_per_iteration_after_warmup"] = (
        1000 * (time.perf_counter() - t1) / (iterations - warmup))
    value = color.detach().numpy()
    result["error_end"] = float(np.sum((value - truth) ** 2))
    result["value_end"] = value.tolist()
    result["truth"] = truth.tolist()
    json.dump(result, open(out, "w"), indent=1)
    """
)

MANY_SCENES = COMMON + textwrap.dedent(
    """
    scenes_dir, count, warmup = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    files = ["cbox.xml", "cbox_rectangles.xml", "glass_sphere.xml", "furnace.xml"]

    def load(i):
        if i % 5 == 4:
            d = tr.cornell_box()
            d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 32
            return tr.load_dict(d)
        return tr.load_file(os.path.join(scenes_dir, files[i % 5]), res=32, spp=1)

    result = {"count": count, "warmup": warmup}
    for phase in ("load", "load_render"):
        t0 = time.perf_counter()
        samples = []
        for i in range(count):
            scene = load(i)
            if phase == "load_render":
                image = tr.render(scene, spp=1, seed=i).to_numpy()
                if not np.all(np.isfinite(image)):
                    sys.exit(f"scene {i}: non-finite pixels")
            del scene
            if i + 1 == warmup or i + 1 == count:
                samples.append({"scenes": i + 1, **memory()})
            elif (i + 1) % 10 == 0:
                samples.append({"scenes": i + 1, **memory(trim=False)})
        result[phase] = {"samples": samples, "seconds": time.perf_counter() - t0,
                         "after_warmup": next(s for s in samples if s["scenes"] == warmup),
                         "end": samples[-1]}
    json.dump(result, open(out, "w"), indent=1)
    """
)


def run_script(tmp_path, name, source, *args, timeout=900) -> dict:
    script = tmp_path / f"{name}.py"
    script.write_text(source)
    out = tmp_path / f"{name}.json"
    proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below
        [sys.executable, str(script), str(out), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
    )
    assert proc.returncode == 0, (
        f"{name} exited with {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    result = json.loads(out.read_text())
    result["json"] = str(out)
    return result


def growth(before: dict, after: dict, kind: str = "live") -> float:
    """Relative growth of live RSS; ``kind="raw"``: raw RSS at the end against live RSS right
    after the warm-up trim (no trim in between)."""
    return after[f"{kind}_kb"] / before["live_kb"] - 1.0


def report(title: str, result: dict, before: dict, after: dict, extra: str = "") -> str:
    summary = {
        "live_before_mib": before["live_kb"] / 1024, "live_after_mib": after["live_kb"] / 1024,
        "live_growth_percent": 100 * growth(before, after),
        "raw_after_mib": after["raw_kb"] / 1024,
        "raw_growth_percent": 100 * growth(before, after, "raw"),
    }
    text = (
        f"\n{title}: live RSS {summary['live_before_mib']:.1f} -> {summary['live_after_mib']:.1f} "
        f"MiB ({summary['live_growth_percent']:+.2f} %), raw RSS at the end "
        f"{summary['raw_after_mib']:.1f} MiB ({summary['raw_growth_percent']:+.2f} %){extra}"
    )
    print(text)
    path = result["json"]
    with open(path) as f:
        saved = json.load(f)
    saved.setdefault("summary", {})[title] = summary
    with open(path, "w") as f:
        json.dump(saved, f, indent=1)
    return text


def _check_loop(result, title):
    before, after = result["after_warmup"], result["end"]
    report(title, result, before, after,
           f"; {result['iterations']} iterations in {result['seconds']:.1f} s "
           f"({result['ms_per_iteration_after_warmup']:.1f} ms each after warm-up); parameter "
           f"error {result['error_start']:.3g} -> {result['error_end']:.3g}; {result['json']}")
    print("  raw RSS samples after the warm-up trim (iteration: MiB):",
          ", ".join(f"{s['iteration']}: {s['raw_kb'] / 1024:.1f}" for s in result["samples"]))
    assert growth(before, after) < MAX_GROWTH, f"{title}: memory grew after warm-up"
    # no drift: the optimization moved towards the truth and stayed there
    assert result["error_end"] < 0.5 * result["error_start"], result


@pytest.mark.slow
def test_native_red_wall_loop_keeps_memory_flat(tmp_path):
    result = run_script(tmp_path, "native_loop", NATIVE_LOOP, ITERATIONS, WARMUP)
    _check_loop(result, "native loop (tr.ad.Adam + ti.ad.Tape)")


@pytest.mark.slow
def test_torch_red_wall_loop_keeps_memory_flat(tmp_path):
    result = run_script(tmp_path, "torch_loop", TORCH_LOOP, ITERATIONS, WARMUP)
    _check_loop(result, "torch loop (trt.render + torch.optim.Adam)")


@pytest.fixture(scope="module")
def many_scenes(tmp_path_factory, scenes_dir):
    tmp_path = tmp_path_factory.mktemp("many_scenes")
    return run_script(tmp_path, "many_scenes", MANY_SCENES, scenes_dir, 50, 10)


@pytest.mark.slow
def test_loading_50_scenes_keeps_memory_flat(many_scenes):
    phase = many_scenes["load"]
    report("50 scenes loaded", many_scenes, phase["after_warmup"], phase["end"],
           f"; {phase['seconds']:.1f} s; {many_scenes['json']}")
    assert growth(phase["after_warmup"], phase["end"]) < MAX_GROWTH


@pytest.mark.slow
def test_loading_and_rendering_50_scenes_keeps_memory_bounded(many_scenes):
    phase = many_scenes["load_render"]
    report("50 scenes loaded and rendered", many_scenes, phase["after_warmup"], phase["end"],
           f"; {phase['seconds']:.1f} s; {many_scenes['json']}")
    print("  raw RSS samples (scenes: MiB):",
          ", ".join(f"{s['scenes']}: {s['raw_kb'] / 1024:.1f}" for s in phase["samples"]))
    assert growth(phase["after_warmup"], phase["end"]) < MAX_GROWTH
