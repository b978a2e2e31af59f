"""Environment map (Mitsuba's ``envmap``): a latitude-longitude image around the scene.

=========  =============  ========================================================================
Parameter  Type           Description
=========  =============  ========================================================================
filename   string         Image file (usually ``.exr`` / ``.hdr``; 8-bit files are sRGB-decoded).
data       array (H,W,3)  The image given directly (dict API), linear RGB.
scale      float          Multiplies the radiance. Default 1.
to_world   transform      Orients the environment (a rotation). Default identity.
=========  =============  ========================================================================

Exactly one of ``filename`` and ``data``. Alpha is dropped; a 1-channel image is expanded to grey
RGB. Values must be finite and >= 0.

Mitsuba's mapping (``src/emitters/envmap.cpp``): the image spans ``u = phi / (2 pi)`` (columns)
and ``v = theta / pi`` (rows, row 0 at the top); a local direction for ``(u, v)`` is
``(sin(phi) sin(theta), cos(theta), -cos(phi) sin(theta))``, +y up, then ``to_world`` applies.

Exposes ``data`` (``np.ndarray (H, W, 3) float32``), ``scale`` (float), ``to_world``
(``(4, 4) float64``), ``filename`` (or None).

Example::

    tr.load_dict({"type": "envmap", "filename": "sky.exr", "scale": 2.0,
                  "to_world": tr.ScalarTransform4f.rotate([0, 1, 0], 90)})
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..core.registry import Plugin, register
from ..textures.bitmap import _decode_image


@register("emitter", "envmap")
class EnvironmentMapEmitter(Plugin):
    """Image-based environment light; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.scale = props.get_float("scale", 1.0)
        if not math.isfinite(self.scale) or self.scale < 0.0:
            props.error(f"'scale' must be finite and >= 0, got {self.scale}", "scale")
        self.to_world = props.get_transform("to_world")
        if not np.all(np.isfinite(self.to_world)):
            props.error("'to_world' must be finite", "to_world")

        if props.has("filename") == props.has("data"):
            props.error("give exactly one of 'filename' and 'data'")
        if props.has("filename"):
            self.filename = props.get_string("filename")
            if not Path(self.filename).is_file():
                props.error(f"image file not found: '{self.filename}'", "filename")
            try:
                img = _decode_image(Path(self.filename), raw=False)
            except (OSError, ValueError) as exc:
                props.error(f"could not read '{self.filename}': {exc}", "filename")
            name = "filename"
        else:
            self.filename = None
            img = props.get_array("data")
            name = "data"
            if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
                props.error(f"'data' must have shape (H, W, 3), got {img.shape}", "data")
        img = np.asarray(img, dtype=np.float32)
        if img.shape[2] in (2, 4):
            img = img[..., :-1]
        if img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        if img.shape[0] < 1 or img.shape[1] < 1:
            props.error(f"the environment map is empty (shape {img.shape})", name)
        if not np.all(np.isfinite(img)) or np.any(img < 0):
            props.error("the environment map must be finite and >= 0", name)
        self.data = np.ascontiguousarray(img)
