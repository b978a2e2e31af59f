"""Checkerboard texture (Mitsuba's ``checkerboard``).

=========  ========================  ============================================================
Parameter  Type                      Description
=========  ========================  ============================================================
color0     texture | float | rgb     Color of the cells where both fractional uv coordinates are
                                     on the same side of 0.5. Default 0.4.
color1     texture | float | rgb     Color of the other cells. Default 0.2.
to_uv      transform                 uv transform, as for ``bitmap`` (4x4 -> 3x3 by dropping the
                                     z row and column). Default identity.
=========  ========================  ============================================================

Exposes ``color0``, ``color1`` (texture plugins) and ``to_uv`` (``np.ndarray (3, 3) float32``).
Without ``to_uv`` there are 2x2 cells over [0, 1]^2: ``color0`` where
``(frac(u) > 0.5) == (frac(v) > 0.5)``, else ``color1`` (Mitsuba's rule).

Example::

    tr.load_dict({"type": "diffuse",
                  "reflectance": {"type": "checkerboard", "color0": [0.9, 0.9, 0.9],
                                  "to_uv": tr.ScalarTransform4f.scale([5, 5, 1])}})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import Plugin, register
from .bitmap import read_to_uv


@register("texture", "checkerboard")
class CheckerboardTexture(Plugin):
    """Two-color checkerboard; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.color0 = props.get_texture("color0", 0.4)
        self.color1 = props.get_texture("color1", 0.2)
        self.to_uv = read_to_uv(props)

    def eval_numpy(self, uv) -> np.ndarray:
        """Reference evaluation (numpy): uv ``(N, 2)`` -> ``(N, 3) float32``."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        m = self.to_uv.astype(np.float64)
        t = uv @ m[:2, :2].T + m[:2, 2]
        high = (t - np.floor(t)) > 0.5
        first = high[:, 0] == high[:, 1]
        c0 = self.color0.eval_numpy(uv)
        c1 = self.color1.eval_numpy(uv)
        return np.where(first[:, None], c0, c1).astype(np.float32)
