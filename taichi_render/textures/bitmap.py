"""Image texture (Mitsuba's ``bitmap``).

=============  ==============  ===================================================================
Parameter      Type            Description
=============  ==============  ===================================================================
filename       string          Image file (``.png``, ``.jpg``, ``.exr``, ``.hdr``, ``.pfm``).
data           array (H,W,C)   Texel values given directly (dict API only), C in {1, 3}; used
                               as they are (linear), like Mitsuba's ``data`` tensor.
filter_type    string          ``bilinear`` (default) or ``nearest``.
wrap_mode      string          ``repeat`` (default), ``mirror`` or ``clamp``.
raw            bool            Keep 8/16-bit values as stored instead of sRGB-decoding them
                               (normal maps, masks). Default false. Float formats are linear
                               either way.
to_uv          transform       2D affine map applied to the uv coordinates before the lookup.
                               A 4x4 transform is reduced to 3x3 by dropping row and column 2
                               (the z axis), as Mitsuba does. Default identity.
format, accel  string, bool    Accepted for Mitsuba compatibility and ignored (storage details).
=============  ==============  ===================================================================

Exactly one of ``filename`` and ``data`` must be given.

Exposes ``data`` (``np.ndarray (H, W, C) float32``, linear, C in {1, 3}: alpha is dropped, a
grey-alpha image keeps its grey channel), ``filter_type``, ``wrap_mode``, ``raw`` and ``to_uv``
(``np.ndarray (3, 3) float32``, acting on column vectors ``(u, v, 1)``).

UV convention (Mitsuba's): the texel array is stored as the image file is, row 0 at the top, and
a lookup at ``(u, v)`` reads column ``u * W`` and **row ``v * H``**, so ``v = 0`` is the top row of
the image (v points down). Mitsuba's OBJ loader flips ``v`` of the file (``v -> 1 - v``) so that
ordinary OBJ textures come out upright; a ``rectangle`` maps uv (0, 0) to its local corner
(-1, -1), which therefore shows the top-left texel of the image.

Example::

    tr.load_dict({"type": "diffuse",
                  "reflectance": {"type": "bitmap", "filename": "wood.png",
                                  "to_uv": tr.ScalarTransform4f.scale([4, 4, 1])}})
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.registry import Plugin, register

FILTER_TYPES = ("bilinear", "nearest")
WRAP_MODES = ("repeat", "mirror", "clamp")
_SRGB_ENCODED_EXTENSIONS = (".png", ".jpg", ".jpeg")


def read_to_uv(props, name: str = "to_uv") -> np.ndarray:
    """Read a uv transform -> ``(3, 3) float32``.

    A 4x4 matrix keeps rows/columns 0, 1 and 3 (Mitsuba's 4x4 -> 3x3 rule). A 3x3 matrix that the
    property bag embedded into the upper-left block of a 4x4 (empty translation column, non-zero
    third column) is taken as it is.
    """
    m = props.get_transform(name)
    embedded_3x3 = (
        not np.any(m[:3, 3]) and not np.any(m[3, :3]) and np.any(m[:2, 2]) and m[2, 2] == 1.0
    )
    out = m[:3, :3] if embedded_3x3 else m[np.ix_([0, 1, 3], [0, 1, 3])]
    if not np.all(np.isfinite(out)):
        props.error(f"'{name}' must be finite", name)
    return out.astype(np.float32)


def _decode_image(path: Path, raw: bool) -> np.ndarray:
    """Read an image file -> (H, W, C) float32, linear unless ``raw`` (C as stored).

    The one place that decodes files: switch the reader here.
    """
    from ..io.bitmap import linear_to_srgb, read_bitmap

    img = np.asarray(read_bitmap(path), dtype=np.float32)
    if raw and path.suffix.lower() in _SRGB_ENCODED_EXTENSIONS:
        # read_bitmap sRGB-decodes the colour channels of 8/16-bit files; undo it exactly.
        color = 1 if img.shape[2] <= 2 else 3
        img = img.copy()
        img[..., :color] = linear_to_srgb(img[..., :color])
    return img


def _drop_alpha(img: np.ndarray) -> np.ndarray:
    """(H, W, C) with C in 1..4 -> (H, W, 1|3): Y, YA -> Y; RGB, RGBA -> RGB."""
    channels = img.shape[2]
    if channels in (1, 3):
        return img
    if channels == 2:
        return img[..., :1]
    return img[..., :3]


def wrap_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Integer texel indices -> [0, n) under a wrap mode (numpy reference of the device code)."""
    if mode == "repeat":
        return np.mod(i, n)
    if mode == "clamp":
        return np.clip(i, 0, n - 1)
    period = np.mod(i, 2 * n)  # mirror
    return np.where(period >= n, 2 * n - 1 - period, period)


@register("texture", "bitmap")
class BitmapTexture(Plugin):
    """Image texture; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.filter_type = props.get_string("filter_type", "bilinear")
        if self.filter_type not in FILTER_TYPES:
            props.error(
                f"invalid filter_type {self.filter_type!r}; expected 'bilinear' or 'nearest'",
                "filter_type",
            )
        self.wrap_mode = props.get_string("wrap_mode", "repeat")
        if self.wrap_mode not in WRAP_MODES:
            props.error(
                f"invalid wrap_mode {self.wrap_mode!r}; expected 'repeat', 'mirror' or 'clamp'",
                "wrap_mode",
            )
        self.raw = props.get_bool("raw", False)
        self.to_uv = read_to_uv(props)
        props.get_string("format", "auto")
        props.get_bool("accel", True)

        if props.has("filename") == props.has("data"):
            props.error("give exactly one of 'filename' and 'data'")
        if props.has("filename"):
            self.filename = props.get_string("filename")
            path = Path(self.filename)
            if not path.is_file():
                props.error(f"image file not found: '{self.filename}'", "filename")
            try:
                img = _decode_image(path, self.raw)
            except (OSError, ValueError) as exc:
                props.error(f"could not read '{self.filename}': {exc}", "filename")
            self.data = self._check_data(props, _drop_alpha(img), "filename")
        else:
            self.filename = None
            data = props.get_array("data")
            if data.ndim != 3 or data.shape[2] not in (1, 3):
                props.error(f"'data' must have shape (H, W, 1|3), got {data.shape}", "data")
            self.data = self._check_data(props, data, "data")

    @staticmethod
    def _check_data(props, data: np.ndarray, name: str) -> np.ndarray:
        data = np.ascontiguousarray(data, dtype=np.float32)
        if data.shape[0] < 1 or data.shape[1] < 1:
            props.error(f"the image is empty (shape {data.shape})", name)
        if not np.all(np.isfinite(data)):
            props.error("the image has non-finite values", name)
        return data

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) in texels."""
        return int(self.data.shape[1]), int(self.data.shape[0])

    def eval_numpy(self, uv) -> np.ndarray:
        """Reference lookup (numpy): uv ``(N, 2)`` -> ``(N, C) float32``.

        Applies ``to_uv``, then Mitsuba's texel convention: texel centers at ``(i + 0.5) / W``;
        bilinear weights between the four nearest centers, wrapped per ``wrap_mode``.
        """
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        m = self.to_uv.astype(np.float64)
        uv = uv @ m[:2, :2].T + m[:2, 2]
        h, w = self.data.shape[:2]
        x, y = uv[:, 0] * w, uv[:, 1] * h
        if self.filter_type == "nearest":
            ix = wrap_index(np.floor(x).astype(np.int64), w, self.wrap_mode)
            iy = wrap_index(np.floor(y).astype(np.int64), h, self.wrap_mode)
            return self.data[iy, ix]
        x, y = x - 0.5, y - 0.5
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = (x - x0)[:, None], (y - y0)[:, None]
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        xs = [wrap_index(x0 + k, w, self.wrap_mode) for k in (0, 1)]
        ys = [wrap_index(y0 + k, h, self.wrap_mode) for k in (0, 1)]
        d = self.data.astype(np.float64)
        top = (1 - fx) * d[ys[0], xs[0]] + fx * d[ys[0], xs[1]]
        bottom = (1 - fx) * d[ys[1], xs[0]] + fx * d[ys[1], xs[1]]
        return ((1 - fy) * top + fy * bottom).astype(np.float32)
