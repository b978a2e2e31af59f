"""The README's main job: invert the Cornell box's red wall (Mitsuba's "differentiable
rendering" tutorial) with `prb`, Adam and path replay backpropagation.

Writes to the output folder: the reference and initial and final renders (PNG and EXR), a
strip of frames of the optimization, and a convergence plot (loss and parameter error).
"""

from __future__ import annotations

import pathlib
import time

import numpy as np

KEY = "red.reflectance.value"


def invert_red_wall(res: int = 256, iterations: int = 100, spp: int = 1, lr: float = 0.05,
                    ref_spp: int = 256, max_depth: int = 3, callback=None, progress: bool = True,
                    preview=None):
    """Run the inversion; returns a dict of histories and images.

    The red wall starts at (0.01, 0.2, 0.9) and is recovered from a reference rendered with the
    original colour; `callback(it, image, loss, value)` runs after each iteration and may return
    False to stop. `preview`: a ``tr.preview.Preview``; it gets the reference as its target and
    every iteration's image (Esc in its window stops the loop)."""
    import taichi as ti
    from tqdm import tqdm

    import taichi_render as tr

    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = res
    d["integrator"] = {"type": "prb", "max_depth": max_depth}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    truth = params[KEY].copy()
    image_ref = tr.render(scene, spp=ref_spp, seed=12345).to_numpy()
    if preview is not None:
        preview.set_target(image_ref)
        if callback is None:
            callback = preview.callback
    params[KEY] = [0.01, 0.2, 0.9]
    params.update()
    image_init = tr.render(scene, spp=ref_spp, seed=12345).to_numpy()

    opt = tr.ad.Adam(lr=lr)
    opt[KEY] = params[KEY]
    params.update(opt)
    loss = tr.ad.loss_field()
    history = {"loss": [], "error": [], "value": [], "seconds": []}
    frames = []
    frame_every = max(1, iterations // 8)
    bar = tqdm(range(iterations), desc="invert red wall", disable=not progress)
    t0 = time.perf_counter()
    for it in bar:
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=spp, seed=it)
            tr.ad.mse(image, image_ref, out=loss)
        opt.step()
        opt[KEY] = np.clip(opt[KEY], 0.0, 1.0)
        params.update(opt)
        err = float(np.sum((params[KEY] - truth) ** 2))
        history["loss"].append(float(loss[None]))
        history["error"].append(err)
        history["value"].append(params[KEY].copy())
        history["seconds"].append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{loss[None]:.5f}", err=f"{err:.2e}")
        if it % frame_every == 0 or it == iterations - 1:
            frames.append(image.to_numpy())
        if callback is not None and callback(it, image, float(loss[None]), params[KEY]) is False:
            break
    image_final = tr.render(scene, spp=ref_spp, seed=12345).to_numpy()
    return {"history": history, "frames": frames, "truth": truth, "image_ref": image_ref,
            "image_init": image_init, "image_final": image_final, "params": params, "scene": scene}


def timing_report(seconds) -> str:
    """How long the iterations took, from the cumulative `history["seconds"]` of
    `invert_red_wall`: the first iteration on its own (it compiles the adjoint kernel, or loads
    it from Taichi's offline cache), then the median of the others."""
    seconds = np.asarray(seconds, np.float64)
    if seconds.size == 0:
        return "no iterations"
    first = f"first iteration {seconds[0]:.1f} s (includes compiling or loading the kernels)"
    if seconds.size == 1:
        return first
    steady = np.diff(seconds)
    return (f"{first}, then {1000 * float(np.median(steady)):.1f} ms per iteration "
            f"(median of the remaining {steady.size})")


def save_outputs(result: dict, out: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import taichi_render as tr

    out.mkdir(parents=True, exist_ok=True)
    for name in ("image_ref", "image_init", "image_final"):
        tr.write_bitmap(out / f"{name[6:]}.png", result[name])
        tr.write_bitmap(out / f"{name[6:]}.exr", result[name])
    strip = np.concatenate(result["frames"], axis=1)
    tr.write_bitmap(out / "frames.png", strip)
    h = result["history"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].semilogy(h["loss"])
    axes[0].set(title="image loss (MSE)", xlabel="iteration")
    axes[1].semilogy(h["error"])
    axes[1].set(title="parameter error ||x - x*||^2", xlabel="iteration")
    fig.tight_layout()
    fig.savefig(out / "convergence.png", dpi=100)
    plt.close(fig)


def run_demo(args) -> int:
    import taichi_render as tr

    tr.init(args.arch)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # a GGUI window where one can open; otherwise frames only (never takes the process down)
    with tr.preview.Preview(show_window=not args.no_window, record=True, record_every=5) as pv:
        print(f"live preview: {pv.backend}")
        result = invert_red_wall(res=args.res, iterations=args.iterations, spp=args.spp, preview=pv)
        pv.save_animation(out / "optimization.gif", fps=8)
    save_outputs(result, out)
    h = result["history"]
    print(f"final parameter error {h['error'][-1]:.2e} after {len(h['error'])} iterations; "
          f"{timing_report(h['seconds'])}; outputs in {out}/")
    print("recovered", np.round(h["value"][-1], 4), "truth", np.round(result["truth"], 4))
    return 0 if h["error"][-1] < 1e-3 else 1
