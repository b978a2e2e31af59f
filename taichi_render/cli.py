"""Command line: `python -m taichi_render render SCENE -o OUT` and `python -m taichi_render demo`."""

from __future__ import annotations

import argparse
import os
import sys
import time


def _progress_render(scene, spp: int, seed: int, desc: str, chunk: int | None = None):
    """Render in chunks of `chunk` samples per pixel (default: about a million samples per
    launch) with a tqdm bar; the image equals that of one `tr.render` call."""
    from tqdm import tqdm

    from .render.renderer import check_spp_seed, develop, get_sensor, launch_primal

    sensor = get_sensor(scene, 0)
    spp, seed = check_spp_seed(sensor, spp, seed)
    w, h = sensor.film().crop_size()
    if chunk is None:
        chunk = max(1, min(spp, (1 << 20) // max(1, w * h)))
    done = 0
    with tqdm(total=spp, desc=desc, unit="spp") as bar:
        while done < spp:
            n = min(chunk, spp - done)
            launch_primal(scene, sensor, n, seed, sample_offset=done, clear=done == 0)
            done += n
            bar.update(n)
    return develop(sensor)


def set_film_size(scene, width: int, height: int) -> None:
    """Change the resolution of every sensor's film (crop window reset to the full film)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"--res needs positive sizes, got {width} {height}")
    for sensor in scene.sensors():
        film = sensor.film()
        film.width, film.height = width, height
        film.crop_offset = (0, 0)
        film.crop_width, film.crop_height = width, height


def cmd_render(args) -> int:
    import taichi_render as tr

    tr.init(args.arch)
    t0 = time.perf_counter()
    scene = tr.load_file(args.scene)
    if args.res:
        set_film_size(scene, *args.res)
    image = _progress_render(scene, args.spp, args.seed, os.path.basename(args.scene))
    tr.write_bitmap(args.output, image)
    print(f"wrote {args.output} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args)


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taichi_render", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="render a Mitsuba 3 XML scene to an image file")
    p.add_argument("scene", help="scene file (.xml)")
    p.add_argument("-o", "--output", required=True, help="output image (.exr, .hdr, .pfm, .png, .jpg)")
    p.add_argument("--spp", type=int, default=None, help="samples per pixel (default: the scene's)")
    p.add_argument("--res", type=int, nargs=2, metavar=("W", "H"), help="film resolution")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arch", choices=["auto", "cpu", "cuda"], default="auto")
    p.set_defaults(func=cmd_render)
    d = sub.add_parser("demo", help="the README's main job (see taichi_render/demo.py)")
    d.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    d.add_argument("--arch", choices=["auto", "cpu", "cuda"], default="auto")
    d.add_argument("--res", type=positive_int, default=256, help="film resolution (default 256)")
    d.add_argument("--spp", type=positive_int, default=1, help="samples per pixel per iteration (default 1)")
    d.add_argument("--iterations", type=positive_int, default=100, help="Adam iterations (default 100)")
    d.add_argument("--no-window", action="store_true", help="no GGUI window: off-screen preview frames only")
    d.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
