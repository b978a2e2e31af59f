"""Image files: read and write linear float images, sRGB transfer curve, tone mapping.

Formats, chosen by the file extension (case-insensitive):

- ``.exr``: float32 channels ``R,G,B[,A]`` or ``Y``, ZIP-compressed; the ``OpenEXR`` package
  (v3 API). Reading also takes half-float files.
- ``.hdr``: Radiance RGBE (8-bit mantissas, shared exponent); OpenCV (``cv2.imencode`` /
  ``cv2.imdecode``, BGR order converted).
- ``.pfm``: float32, 1 or 3 channels, linear; OpenCV.
- ``.png``: 8-bit sRGB-encoded, clipped to [0, 1]; imageio (Pillow). 16-bit RGB(A) PNGs are read
  through OpenCV, since Pillow truncates them to 8 bits.
- ``.jpg``/``.jpeg``: 8-bit sRGB-encoded, clipped, quality 95; imageio (Pillow).

Channel counts: every format takes 1, 3 or 4 channels. RGBE, PFM and JPEG have no alpha channel:
a 4th channel is dropped when writing them. RGBE is RGB only: a 1-channel image is written as
grey RGB and reads back with 3 channels. In PNG files alpha is stored as it is (linear
coverage); only the colour channels are sRGB-encoded.

Orientation: row 0 is the top of the image everywhere. PFM stores rows bottom to top; OpenCV
flips them on both read and write (checked by the tests against a hand-written file).

The codec libraries are imported on first use, so ``import taichi_render.io`` stays cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SUPPORTED_EXTENSIONS = (".exr", ".hdr", ".pfm", ".png", ".jpg", ".jpeg")

# Exact sRGB transfer curve (IEC 61966-2-1).
_SRGB_LINEAR_CUTOFF = 0.0031308  # linear value where the curve switches from linear to power
_SRGB_ENCODED_CUTOFF = 0.04045  # the same point on the encoded axis

_JPEG_QUALITY = 95


# ---- sRGB transfer curve and tone mapping ----


def _as_float_array(x) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def linear_to_srgb(x) -> np.ndarray:
    """Encode linear values with the exact sRGB curve (no clipping).

    ``12.92 x`` for ``x <= 0.0031308``, else ``1.055 x^(1/2.4) - 0.055``. Values below the
    cutoff (negatives included) use the linear segment. Returns an array of the same shape;
    float32 input stays float32, anything else becomes float64.
    """
    x = _as_float_array(x)
    power = 1.055 * np.power(np.maximum(x, _SRGB_LINEAR_CUTOFF), 1.0 / 2.4) - 0.055
    return np.where(x <= _SRGB_LINEAR_CUTOFF, 12.92 * x, power).astype(x.dtype, copy=False)


def srgb_to_linear(x) -> np.ndarray:
    """Decode sRGB-encoded values in [0, 1] to linear with the exact sRGB curve.

    ``x / 12.92`` for ``x <= 0.04045``, else ``((x + 0.055) / 1.055)^2.4``. Inverse of
    :func:`linear_to_srgb`. float32 input stays float32, anything else becomes float64.
    """
    x = _as_float_array(x)
    power = np.power((np.maximum(x, _SRGB_ENCODED_CUTOFF) + 0.055) / 1.055, 2.4)
    return np.where(x <= _SRGB_ENCODED_CUTOFF, x / 12.92, power).astype(x.dtype, copy=False)


def tonemap(image, exposure: float = 0.0) -> np.ndarray:
    """Display version of a linear image: scale by ``2**exposure``, sRGB-encode, clip to [0, 1].

    Args:
        image: Taichi field, numpy array or torch tensor, (H, W), (H, W, 1), (H, W, 3) or
            (H, W, 4), linear radiance. A 4th (alpha) channel is clipped but not scaled or
            encoded.
        exposure: exposure compensation in stops (f-stops); 0 leaves values unchanged.

    Returns:
        np.ndarray float32 (H, W, C) in [0, 1]; NaNs become 0.
    """
    img = _to_hwc_float32(image, "tonemap")
    out = img.copy()
    color = slice(0, 3) if img.shape[2] == 4 else slice(None)
    out[..., color] = linear_to_srgb(img[..., color] * np.float32(2.0**exposure))
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)


# ---- input conversion ----


def _to_numpy(image) -> np.ndarray:
    """numpy view/copy of a numpy array, torch tensor or Taichi field (anything with to_numpy)."""
    if isinstance(image, np.ndarray):
        return image
    if type(image).__module__.split(".")[0] == "torch":
        # A torch tensor; no need to import torch to convert it.
        return image.detach().cpu().numpy()
    to_numpy = getattr(image, "to_numpy", None)
    if callable(to_numpy):
        return np.asarray(to_numpy())
    return np.asarray(image)


def _to_hwc_float32(image, what: str) -> np.ndarray:
    """Validate an image and return it as a float32 (H, W, C) array, C in {1, 3, 4}."""
    arr = _to_numpy(image)
    if not (np.issubdtype(arr.dtype, np.floating) or arr.dtype == np.bool_):
        raise TypeError(
            f"{what}: expected a floating-point (linear) image, got dtype {arr.dtype} "
            "(convert 8-bit data to float first, e.g. srgb_to_linear(a / 255))"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"{what}: expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got shape {tuple(arr.shape)}"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def _extension(path: Path, what: str) -> str:
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise ValueError(
            f"{what}: unsupported image format '{path.suffix}' for '{path}'; "
            f"supported extensions: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    return ext


def _drop_alpha(img: np.ndarray) -> np.ndarray:
    return img[..., :3] if img.shape[2] == 4 else img


def _encode_8bit(img: np.ndarray) -> np.ndarray:
    """Linear float (H, W, C) -> sRGB uint8; alpha (4th channel) only clipped and quantized."""
    out = np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0)
    color = slice(0, 3) if img.shape[2] == 4 else slice(None)
    out[..., color] = linear_to_srgb(out[..., color])
    return np.round(out * 255.0).astype(np.uint8)


def _decode_integer(pixels: np.ndarray) -> np.ndarray:
    """uint8/uint16 (H, W, C) sRGB-encoded -> linear float32; alpha (C = 2 or 4) kept linear."""
    if pixels.dtype == np.bool_:
        return pixels.astype(np.float32)
    scale = float(np.iinfo(pixels.dtype).max)
    out = pixels.astype(np.float64) / scale
    n_color = pixels.shape[2] - 1 if pixels.shape[2] in (2, 4) else pixels.shape[2]
    out[..., :n_color] = srgb_to_linear(out[..., :n_color])
    return out.astype(np.float32)


# ---- writers ----


def _write_exr(path: Path, img: np.ndarray) -> None:
    import OpenEXR

    names = {1: "Y", 3: "RGB", 4: "RGBA"}[img.shape[2]]
    channels = {name: np.ascontiguousarray(img[..., i]) for i, name in enumerate(names)}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, channels) as f:
        f.write(str(path))


def _cv2_encode(path: Path, ext: str, img: np.ndarray) -> None:
    import cv2

    if img.shape[2] == 3:
        img = img[..., ::-1]  # OpenCV stores BGR
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(img))
    if not ok:
        raise OSError(f"write_bitmap: OpenCV could not encode '{path}'")
    path.write_bytes(buf.tobytes())


def _write_hdr(path: Path, img: np.ndarray) -> None:
    img = _drop_alpha(img)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    # RGBE cannot store negative values or NaN.
    _cv2_encode(path, ".hdr", np.maximum(np.nan_to_num(img, nan=0.0), 0.0))


def _write_pfm(path: Path, img: np.ndarray) -> None:
    _cv2_encode(path, ".pfm", _drop_alpha(img))


def _write_8bit(path: Path, ext: str, img: np.ndarray) -> None:
    import imageio.v3 as iio

    if ext != ".png":
        img = _drop_alpha(img)
    pixels = _encode_8bit(img)
    if pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    kwargs = {"quality": _JPEG_QUALITY} if ext != ".png" else {}
    iio.imwrite(path, pixels, extension=ext, **kwargs)


def write_bitmap(path, image) -> None:
    """Write an image file; the format follows the extension (see the module docstring).

    Args:
        path: file name (str or path-like); its folder must exist.
        image: linear RGB(A) image: ``ti.Vector.field`` / scalar field (anything with
            ``.to_numpy()``), numpy array or torch tensor of shape (H, W), (H, W, 1), (H, W, 3)
            or (H, W, 4), floating point (or bool). Row 0 is the top of the image.

    Float formats (``.exr``, ``.pfm``) store float32 values unchanged; ``.hdr`` stores RGBE
    (about 3 significant digits, negatives clamped to 0); ``.png``/``.jpg`` store the sRGB
    encoding of the values clipped to [0, 1], 8 bits per channel.

    Raises:
        ValueError: unsupported extension (the message names the path and the supported list)
            or wrong image shape.
        TypeError: integer or non-numeric image data.
        FileNotFoundError: the destination folder does not exist (the message names it).
    """
    path = Path(os.fspath(path))
    ext = _extension(path, "write_bitmap")
    img = _to_hwc_float32(image, "write_bitmap")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"write_bitmap: folder '{folder}' does not exist (writing '{path}')"
        )
    if ext == ".exr":
        _write_exr(path, img)
    elif ext == ".hdr":
        _write_hdr(path, img)
    elif ext == ".pfm":
        _write_pfm(path, img)
    else:
        _write_8bit(path, ext, img)


# ---- readers ----


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR

    with OpenEXR.File(str(path), separate_channels=True) as f:
        channels = {name: ch.pixels for name, ch in f.channels().items()}
    for layout in (("R", "G", "B", "A"), ("R", "G", "B"), ("Y", "A"), ("Y",)):
        if set(layout) <= channels.keys():
            return np.stack([channels[n] for n in layout], axis=-1).astype(np.float32)
    raise ValueError(
        f"read_bitmap: '{path}' has EXR channels {sorted(channels)}; expected R,G,B[,A] or Y[,A]"
    )


def _cv2_decode(path: Path, flags: int) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), flags)
    if img is None:
        raise ValueError(f"read_bitmap: OpenCV could not decode '{path}'")
    if img.ndim == 2:
        return img[:, :, None]
    if img.shape[2] == 3:
        return img[..., ::-1]  # BGR -> RGB
    if img.shape[2] == 4:
        return img[..., [2, 1, 0, 3]]  # BGRA -> RGBA
    return img


def _png_is_16bit_color(path: Path) -> bool:
    """True for 16-bit RGB/RGBA/grey-alpha PNGs, which Pillow would truncate to 8 bits."""
    with open(path, "rb") as f:
        head = f.read(26)
    # signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4) + depth + colour type
    if len(head) < 26 or head[12:16] != b"IHDR":
        return False
    return head[24] == 16 and head[25] in (2, 4, 6)


def _read_8bit(path: Path, ext: str) -> np.ndarray:
    if ext == ".png" and _png_is_16bit_color(path):
        import cv2

        pixels = _cv2_decode(path, cv2.IMREAD_UNCHANGED)
    else:
        import imageio.v3 as iio

        pixels = np.asarray(iio.imread(path, extension=ext))
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels.astype(np.float32)
    return _decode_integer(pixels)


def read_bitmap(path) -> np.ndarray:
    """Read an image file as a linear float32 array (H, W, C), row 0 at the top.

    8- and 16-bit files (``.png``, ``.jpg``) are sRGB-decoded to linear (alpha is not);
    ``.exr``, ``.hdr`` and ``.pfm`` are returned as stored. C is 1 (grey), 3 (RGB) or 4 (RGBA)
    (2 for a grey-alpha PNG or a Y,A EXR); ``.hdr`` files always give 3 channels.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: unsupported extension (the message names the path and the supported list),
            or a file the codec cannot decode.
    """
    path = Path(os.fspath(path))
    ext = _extension(path, "read_bitmap")
    if not path.is_file():
        raise FileNotFoundError(f"read_bitmap: no such file: '{path}'")
    try:
        return _read(path, ext)
    except (RuntimeError, OSError) as e:
        # OpenEXR raises RuntimeError, imageio an OSError suggesting plugins to install
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"read_bitmap: could not decode '{path}' ({reason})") from e


def _read(path: Path, ext: str) -> np.ndarray:
    if ext == ".exr":
        return _read_exr(path)
    if ext == ".hdr":
        import cv2

        img = _cv2_decode(path, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    elif ext == ".pfm":
        import cv2

        img = _cv2_decode(path, cv2.IMREAD_UNCHANGED)
    else:
        return _read_8bit(path, ext)
    return np.ascontiguousarray(img, dtype=np.float32)
