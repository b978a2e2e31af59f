"""Box reconstruction filter (Mitsuba's ``box``): each sample counts, with weight 1, only in the
pixel it falls into.

No parameters (as in Mitsuba). Exposes ``radius = 0.5`` (pixels).

Example::

    tr.load_dict({"type": "hdrfilm", "rfilter": {"type": "box"}})
"""

from __future__ import annotations

from ..core.registry import Plugin, register


@register("rfilter", "box")
class BoxFilter(Plugin):
    """Box filter of radius 0.5 pixel."""

    def __init__(self, props):
        super().__init__(props)
        self.radius = 0.5

    def eval(self, x: float) -> float:
        """Filter weight at offset ``x`` (pixels): 1 on [-0.5, 0.5), else 0."""
        return 1.0 if -0.5 <= x < 0.5 else 0.0
