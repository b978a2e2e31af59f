"""Make the four 64x64 textures of scenes/glass_sphere.xml (stand-ins for the images of Mitsuba's
PyTorch interoperability tutorial).

Deterministic (no randomness): running it again rewrites the same pixels. The values below are
sRGB-encoded 8-bit codes, written as plain RGB PNGs next to this script:

- image_001.png: 8x8-pixel checkerboard, orange/teal, with a red marker square at the top left
- image_002.png: concentric rings around a point off the centre, colour changing with the radius
- image_003.png: diagonal colour gradient with a large "F"-like glyph (shows flips and rotations)
- image_004.png: diagonal stripes in four colours

Usage: python scenes/textures/make_textures.py
"""

from pathlib import Path

import imageio.v3 as iio
import numpy as np

SIZE = 64
HERE = Path(__file__).resolve().parent


def _grid():
    """Pixel-centre coordinates in [0, 1]: x to the right, y downward (row 0 at the top)."""
    y, x = (np.mgrid[0:SIZE, 0:SIZE] + 0.5) / SIZE
    return x, y


def _to_uint8(rgb):
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def checkerboard():
    i, j = np.mgrid[0:SIZE, 0:SIZE] // 8
    img = np.where(((i + j) % 2 == 0)[..., None], [0.95, 0.55, 0.10], [0.10, 0.55, 0.60])
    img[2:10, 2:10] = [0.85, 0.05, 0.05]  # orientation marker, top left
    return _to_uint8(img)


def rings():
    x, y = _grid()
    r = np.hypot(x - 0.45, y - 0.55)
    wave = 0.5 + 0.5 * np.cos(2.0 * np.pi * r * 8.0)
    img = np.stack([wave, 0.5 + 0.5 * np.cos(2.0 * np.pi * r * 3.0), 1.0 - 0.8 * wave], axis=-1)
    return _to_uint8(0.1 + 0.8 * img)


def glyph():
    x, y = _grid()
    img = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.8 - 0.6 * x * y], axis=-1)
    f = np.zeros((SIZE, SIZE), bool)  # an "F": stem, top bar, shorter middle bar
    f[10:54, 18:26] = True
    f[10:18, 18:48] = True
    f[28:35, 18:40] = True
    img[f] = [0.98, 0.95, 0.90]
    outline = f & ~(np.roll(f, 1, 0) & np.roll(f, -1, 0) & np.roll(f, 1, 1) & np.roll(f, -1, 1))
    img[outline] = [0.05, 0.05, 0.10]
    return _to_uint8(img)


def stripes():
    i, j = np.mgrid[0:SIZE, 0:SIZE]
    palette = np.array(
        [[0.90, 0.20, 0.25], [0.95, 0.80, 0.20], [0.20, 0.65, 0.35], [0.20, 0.35, 0.85]]
    )
    return _to_uint8(palette[((i + 2 * j) // 10) % 4])


TEXTURES = {
    "image_001.png": checkerboard,
    "image_002.png": rings,
    "image_003.png": glyph,
    "image_004.png": stripes,
}


def main(folder: Path = HERE) -> None:
    for name, make in TEXTURES.items():
        pixels = make()
        assert pixels.shape == (SIZE, SIZE, 3) and pixels.dtype == np.uint8
        iio.imwrite(folder / name, pixels)
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main()
