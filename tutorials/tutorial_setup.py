"""Set-up shared by the tutorial notebooks, kept out of the reader's way.

Every notebook in this folder starts with one hidden cell (tag ``remove_cell``: the
documentation site drops it; Jupyter shows it collapsed)::

    from tutorial_setup import *  # test scale, kernel cache, quiet Taichi, plotting helpers
    print("tutorial scale:", SCALE)

and then with the cell a reader would write: the imports and ``tr.init("auto")``.

Importing this module, which must happen before anything imports Taichi:

- sets, unless they are set already, the variables that keep Taichi's start-up quiet and offline
  (``ENABLE_TAICHI_HEADER_PRINT=0``, ``TI_LOG_LEVEL=warn``, ``TI_SKIP_VERSION_CHECK=ON``) and
  the kernel cache folder (``TI_OFFLINE_CACHE_FILE_PATH``: the repository's ``.cache/taichi``,
  so compiled kernels are shared by all notebooks, the tests and the command line);
- initialises taichi_render with ``tr.init("auto")`` and drops the one line Taichi prints
  there ("[Taichi] Starting on arch=..."). The notebook's own ``tr.init("auto")`` then only
  returns the architecture in use (a second call never re-initialises);
- shows matplotlib figures inline, as PNG, at 80 dpi.

Names it exports:

- ``SCALE``: ``TR_TUTORIAL_SCALE``, ``"full"`` (default: the committed outputs) or ``"ci"``
  (tiny images and few iterations: the test suite, tests/notebooks/test_tutorials.py);
  ``FULL`` is ``SCALE == "full"``, for checks that only hold at full scale.
- ``pick(full=..., ci=...)``: the value for the current scale, e.g. ``RES = pick(full=256, ci=32)``.
- ``OUT``: a temporary folder for the files a notebook writes (removed when the kernel exits).
- ``show(images, titles)``: linear images side by side, tone-mapped with ``tr.tonemap``.
- ``show_signed(images, titles)``: signed images (derivatives) with a diverging colour map.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import pathlib
import shutil
import tempfile

__all__ = ["FULL", "OUT", "SCALE", "pick", "show", "show_signed"]

ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository

# ---- quiet Taichi, shared kernel cache: before the first `import taichi` ----
os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "0")  # no "[Taichi] version ..." banner
os.environ.setdefault("TI_LOG_LEVEL", "warn")  # no info lines ("Graphical python shell detected")
os.environ.setdefault("TI_SKIP_VERSION_CHECK", "ON")  # no network request for a newer version
os.environ.setdefault("TI_OFFLINE_CACHE_FILE_PATH", str(ROOT / ".cache" / "taichi"))

import matplotlib.pyplot as plt
import numpy as np

import taichi_render as tr

with contextlib.redirect_stdout(io.StringIO()):  # ti.init prints "[Taichi] Starting on arch=..."
    tr.init("auto")

# ---- the size of the run ----
SCALE = os.environ.get("TR_TUTORIAL_SCALE", "full")
if SCALE not in ("full", "ci"):
    raise ValueError(f"TR_TUTORIAL_SCALE must be 'full' or 'ci', got {SCALE!r}")
FULL = SCALE == "full"


def pick(full, ci):
    """``full`` at full scale (the committed outputs), ``ci`` when the tests run the notebook."""
    return full if FULL else ci


# ---- files written by a notebook ----
OUT = pathlib.Path(tempfile.mkdtemp(prefix="tr_tutorial_"))
atexit.register(shutil.rmtree, OUT, ignore_errors=True)

# ---- figures ----
with contextlib.suppress(ImportError):
    from IPython import get_ipython

    if get_ipython() is not None:
        get_ipython().run_line_magic("matplotlib", "inline")
        get_ipython().run_line_magic("config", "InlineBackend.figure_format = 'png'")
plt.rcParams["figure.dpi"] = 80


def show(images, titles=None, exposure=0.0, size=3.2):
    """Linear images side by side, tone-mapped for display (``tr.tonemap``: exposure in stops,
    sRGB curve, clipped to [0, 1], what a PNG file would store); ``size`` is each panel's
    width in inches."""
    titles = titles or [""] * len(images)
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size))
    for ax, image, title in zip(np.atleast_1d(axes), images, titles):
        ax.imshow(tr.tonemap(image, exposure), interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    plt.show()


def show_signed(images, titles, size=3.2, vmax=None, suptitle=None):
    """Signed (H, W) images, such as derivatives: red above zero, blue below, white at zero, on
    a shared range (``vmax``; by default the 99.5th percentile of |value|, robust to outliers)."""
    if vmax is None:
        vmax = max(np.percentile(np.abs(img), 99.5) for img in images) or 1.0
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images) + 0.8, size))
    for ax, img, title in zip(np.atleast_1d(axes), images, titles):
        im = ax.imshow(img, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle)
    plt.show()
