"""Constant RGB texture (Mitsuba's ``rgb``).

==========  =========================  =================================================
Parameter   Type                       Description
==========  =========================  =================================================
value       float | rgb | 3-sequence   The color (linear RGB). Required. A single float
                                       gives a gray ``(v, v, v)``.
==========  =========================  =================================================

Exposes ``value``: ``np.ndarray (3,) float32``. Values may exceed 1 or be negative (as Mitsuba's
unbounded RGB); they must be finite.

Floats and colors given where a texture is expected (``"reflectance": 0.3``) are wrapped into this
plugin by `Properties.get_texture`.

Example::

    tr.load_dict({"type": "diffuse",
                  "reflectance": {"type": "rgb", "value": [0.57, 0.04, 0.04]}})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import Plugin, register


@register("texture", "rgb")
class RGBTexture(Plugin):
    """Constant color; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.value = props.get_color("value")
        if not np.all(np.isfinite(self.value)):
            props.error(f"'value' must be finite, got {self.value.tolist()}", "value")

    def eval_numpy(self, uv) -> np.ndarray:
        """Reference evaluation: uv ``(N, 2)`` -> ``(N, 3) float32`` (the constant color)."""
        n = np.asarray(uv).reshape(-1, 2).shape[0]
        return np.broadcast_to(self.value, (n, 3)).astype(np.float32)
