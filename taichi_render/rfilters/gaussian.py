"""Gaussian reconstruction filter (Mitsuba's ``gaussian``), windowed at 4 standard deviations.

=========  =====  =============================================================================
Parameter  Type   Description
=========  =====  =============================================================================
stddev     float  Standard deviation in pixels (> 0). Default 0.5.
=========  =====  =============================================================================

Exposes ``stddev`` and ``radius = 4 * stddev`` (pixels); weight
``max(0, exp(-x^2 / (2 stddev^2)) - exp(-radius^2 / (2 stddev^2)))`` per axis (Mitsuba's).

Example::

    tr.load_dict({"type": "hdrfilm", "rfilter": {"type": "gaussian", "stddev": 0.25}})
"""

from __future__ import annotations

import math

from ..core.registry import Plugin, register


@register("rfilter", "gaussian")
class GaussianFilter(Plugin):
    """Truncated Gaussian filter; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.stddev = props.get_float("stddev", 0.5)
        if not math.isfinite(self.stddev) or self.stddev <= 0.0:
            props.error(f"'stddev' must be a finite value > 0, got {self.stddev}", "stddev")
        self.radius = 4.0 * self.stddev

    def eval(self, x: float) -> float:
        """Filter weight at offset ``x`` (pixels), one axis."""
        alpha = -1.0 / (2.0 * self.stddev**2)
        return max(0.0, math.exp(alpha * x * x) - math.exp(alpha * self.radius**2))
