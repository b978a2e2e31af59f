"""The README's main job.

Until the differentiable renderer lands, the demo renders the Cornell box of
`scenes/cbox.xml` with a progress bar, writes EXR and PNG images, and compares the image with
the Mitsuba 3 reference when `../shared/reference` is present.
"""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_demo(args) -> int:
    import taichi_render as tr

    from .cli import _progress_render

    tr.init(args.arch)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scene = tr.load_file(ROOT / "scenes" / "cbox.xml", res=args.res, max_depth=3)
    image = _progress_render(scene, args.spp, 0, "Cornell box").to_numpy()
    seconds = time.perf_counter() - t0
    tr.write_bitmap(out / "cbox.exr", image)
    tr.write_bitmap(out / "cbox.png", image)
    print(f"Cornell box {args.res}x{args.res}, {args.spp} spp: {seconds:.1f} s -> {out}/cbox.png")
    ref_path = ROOT.parent / "shared" / "reference" / "cbox" / "cbox_path_d3_spp8192_256.npy"
    if args.res == 256 and ref_path.is_file():
        ref = np.load(ref_path)
        print("mean RGB", np.round(image.mean((0, 1)), 5), "Mitsuba 3 reference", np.round(ref.mean((0, 1)), 5))
    return 0 if os.path.isfile(out / "cbox.png") else 1
