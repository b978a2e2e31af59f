"""Compose the preview canvas in numpy: current | target | |difference|, a loss strip below.

Everything here is plain numpy on 8-bit sRGB images (H, W, 3) uint8 with row 0 at the top, so the
same frame is shown in a GGUI window, inline in a notebook or written to disk. The loss curve is
rasterised in numpy (no figure per frame); captions use matplotlib's FreeType wrapper when it is
present and are left out otherwise.
"""

from __future__ import annotations

import functools

import numpy as np

from ..io.bitmap import tonemap

BACKGROUND = np.array([24, 24, 28], np.uint8)  # canvas and strip background
CURVE = np.array([255, 160, 40], np.uint8)  # loss curve colour
TEXT = np.array([230, 230, 230], np.uint8)
GRID = np.array([60, 60, 68], np.uint8)
MIN_CANVAS_WIDTH = 480  # a single image still gets a readable loss strip
TARGET_PANEL_SIDE = 256  # automatic scale aims at panels about this size
MAX_CANVAS_WIDTH = 1800  # automatic scale shrinks wider canvases


# ---- images ----


def to_display(image, exposure: float = 0.0) -> np.ndarray:
    """Linear image (ti field, numpy or torch; (H, W), (H, W, 1|3|4)) -> (H, W, 3) uint8 sRGB."""
    tm = tonemap(image, exposure=exposure)
    if tm.shape[2] == 1:
        tm = np.repeat(tm, 3, axis=2)
    return np.round(tm[..., :3] * 255.0).astype(np.uint8)


def auto_scale(height: int, width: int, columns: int) -> float:
    """Integer upscale for small images, integer downscale (as 1/n) for very wide canvases."""
    if columns * width > MAX_CANVAS_WIDTH:
        return 1.0 / int(np.ceil(columns * width / MAX_CANVAS_WIDTH))
    return float(max(1, TARGET_PANEL_SIDE // max(height, width, 1)))


def resize(img: np.ndarray, scale: float) -> np.ndarray:
    """Nearest-neighbour upscale by an integer, or box-filter downscale by 1/integer."""
    if scale >= 1:
        s = round(scale)
        return img if s == 1 else np.repeat(np.repeat(img, s, axis=0), s, axis=1)
    n = round(1.0 / scale)
    h, w = (img.shape[0] // n) * n, (img.shape[1] // n) * n
    blocks = img[:h, :w].reshape(h // n, n, w // n, n, -1).astype(np.float32)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _heat_lut() -> np.ndarray:
    """256-entry colour map (matplotlib's inferno when present, grey otherwise), uint8 (256, 3)."""
    try:
        from matplotlib import colormaps

        lut = colormaps["inferno"](np.linspace(0.0, 1.0, 256))[:, :3]
        return np.round(lut * 255).astype(np.uint8)
    except Exception:  # noqa: BLE001 - any matplotlib problem: fall back to grey
        return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)


def heat_map(current: np.ndarray, target: np.ndarray, scale: float) -> np.ndarray:
    """|current - target| of two display images (uint8), channel mean, divided by `scale`
    (a difference in [0, 1] display units that maps to the top of the colour map)."""
    diff = np.abs(current.astype(np.float32) - target.astype(np.float32)).mean(axis=2) / 255.0
    idx = np.clip(np.round(diff / max(scale, 1e-6) * 255.0), 0, 255).astype(np.intp)
    return _heat_lut()[idx]


def diff_scale_for(current: np.ndarray, target: np.ndarray) -> float:
    """Automatic heat-map scale: the 99th percentile of the first difference (at least 1/255)."""
    diff = np.abs(current.astype(np.float32) - target.astype(np.float32)).mean(axis=2) / 255.0
    return float(max(np.percentile(diff, 99), 1.0 / 255.0))


# ---- text ----


@functools.lru_cache(maxsize=4)
def _font(size: int):
    from matplotlib import font_manager, ft2font

    font = ft2font.FT2Font(font_manager.findfont("DejaVu Sans Mono"))
    return font, size


def draw_text(img: np.ndarray, text: str, x: int, y: int, size: int = 11,
              color: np.ndarray = TEXT) -> None:
    """Blend one line of text into `img` (uint8, in place) with its top-left corner at (x, y).
    Silently does nothing when matplotlib's FreeType wrapper is unavailable."""
    try:
        font, size = _font(size)
        font.set_size(size, 72)
        font.set_text(text, 0.0)
        font.draw_glyphs_to_bitmap(antialiased=True)
        alpha = np.asarray(font.get_image(), np.float32) / 255.0
    except Exception:  # noqa: BLE001 - text is decoration; never fail a frame over it
        return
    h = min(alpha.shape[0], img.shape[0] - y)
    w = min(alpha.shape[1], img.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    a = alpha[:h, :w, None]
    region = img[y:y + h, x:x + w].astype(np.float32)
    img[y:y + h, x:x + w] = np.round(region * (1 - a) + color.astype(np.float32) * a)


# ---- loss strip ----


def _curve_rows(values: np.ndarray, height: int, log: bool) -> tuple[np.ndarray, float, float]:
    """Map losses to fractional pixel rows (0 = top); returns rows and the (lo, hi) axis range."""
    v = np.log10(values) if log else values
    lo, hi = float(np.min(v)), float(np.max(v))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    return (hi - v) / (hi - lo) * (height - 1), lo, hi


def loss_strip(losses, width: int, height: int) -> np.ndarray:
    """The loss history drawn as a polyline (log scale when all losses are positive and span more
    than a factor 10), with min/max labels. Returns (height, width, 3) uint8.

    Many iterations per column show as a vertical min-max envelope, so noisy Monte Carlo losses
    stay readable."""
    strip = np.empty((height, width, 3), np.uint8)
    strip[:] = BACKGROUND
    strip[0] = GRID
    values = np.asarray([v for v in losses if v is not None and np.isfinite(v)], np.float64)
    if values.size == 0:
        return strip
    pad_top, pad_bottom, pad_left, pad_right = 24, 6, 76, 8  # caption above, labels left
    plot_h, plot_w = height - pad_top - pad_bottom, width - pad_left - pad_right
    if plot_h < 4 or plot_w < 4:
        return strip
    log = bool(np.all(values > 0) and values.max() > 10 * values.min())
    rows, lo, hi = _curve_rows(values, plot_h, log)
    # Densify so that consecutive samples are at most one column apart.
    n = values.size
    x = np.arange(n) / max(n - 1, 1) * (plot_w - 1)
    if n < 2 * plot_w:
        t = np.linspace(0.0, plot_w - 1, 4 * plot_w)
        rows, x = np.interp(t, x, rows), t
    cols = np.round(x).astype(np.intp)
    seg_lo = np.minimum(rows[:-1], rows[1:]) if rows.size > 1 else rows
    seg_hi = np.maximum(rows[:-1], rows[1:]) if rows.size > 1 else rows
    seg_cols = cols[:-1] if rows.size > 1 else cols
    col_lo = np.full(plot_w, np.inf)
    col_hi = np.full(plot_w, -np.inf)
    np.minimum.at(col_lo, seg_cols, seg_lo)
    np.maximum.at(col_hi, seg_cols, seg_hi)
    np.minimum.at(col_lo, cols[-1:], rows[-1:])
    np.maximum.at(col_hi, cols[-1:], rows[-1:])
    r = np.arange(plot_h)[:, None]
    mask = (r >= np.floor(col_lo)[None, :] - 0.5) & (r <= np.ceil(col_hi)[None, :] + 0.5)
    plot = strip[pad_top:pad_top + plot_h, pad_left:pad_left + plot_w]
    plot[:, 0] = GRID
    plot[-1, :] = GRID
    plot[mask] = CURVE
    fmt = (lambda e: f"{10 ** e:.2e}") if log else (lambda e: f"{e:.3g}")
    draw_text(strip, fmt(hi), 6, pad_top, size=10)
    draw_text(strip, "log" if log else "linear", 6, pad_top + plot_h // 2 - 6, size=10,
              color=GRID * 2)
    draw_text(strip, fmt(lo), 6, height - pad_bottom - 12, size=10)
    return strip


# ---- canvas ----


def compose(current: np.ndarray, target: np.ndarray | None, diff_scale: float | None,
            losses, caption: str, scale: float, strip_height: int,
            extra: np.ndarray | None = None) -> np.ndarray:
    """The whole preview frame: [current | target | heat map | extra] over a loss strip,
    (H, W, 3) uint8.

    `current`/`target` are display images of equal shape (uint8); `scale` resizes the panels.
    `extra` (e.g. the mesh panel), already at the resized panels' height, goes last, unscaled."""
    panels = [current]
    if target is not None:
        panels += [target, heat_map(current, target, diff_scale or 1.0)]
    panels = [resize(p, scale) for p in panels]
    if extra is not None:
        panels.append(extra)
    top = np.concatenate(panels, axis=1)
    width = max(top.shape[1], MIN_CANVAS_WIDTH)
    canvas = np.empty((top.shape[0] + strip_height, width, 3), np.uint8)
    canvas[:] = BACKGROUND
    canvas[:top.shape[0], :top.shape[1]] = top
    canvas[top.shape[0]:] = loss_strip(losses, width, strip_height)
    draw_text(canvas, caption, 8, top.shape[0] + 4, size=11)
    return canvas
