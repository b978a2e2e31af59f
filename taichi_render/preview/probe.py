"""Child-process probe: ``python -m taichi_render.preview.probe [--show] [--arch cpu]``.

Opens a small GGUI window (off-screen unless ``--show``), draws an image with a known pixel,
checks it (off-screen: read back; the y-up convention included), destroys the window and prints
``GGUI-PROBE-OK``. Any failure, including the ones that take the process down, shows up to the
parent as a non-zero exit code (see safety.py).
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="open a visible window")
    parser.add_argument("--arch", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args(argv)

    import numpy as np
    import taichi as ti

    import taichi_render as tr

    tr.init(args.arch)
    width, height = 8, 4
    window = ti.ui.Window("taichi_render probe", (width, height), vsync=False,
                          show_window=args.show)
    try:
        img = np.zeros((width, height, 3), np.uint8)  # GGUI layout: img[x, y], y up
        img[1, height - 1] = (255, 0, 0)
        window.get_canvas().set_image(img)
        if args.show:
            window.show()  # never with show_window=False: that segfaults on lavapipe
        else:
            buf = window.get_image_buffer_as_numpy()
            if buf.shape[:2] != (width, height) or round(float(buf[1, height - 1, 0]) * 255) != 255:
                print("GGUI read-back mismatch", file=sys.stderr)
                return 2
    finally:
        window.destroy()
    print("GGUI-PROBE-OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
