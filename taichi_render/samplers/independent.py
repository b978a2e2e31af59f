"""Independent sampler (Mitsuba's ``independent``): uniform random numbers per sample.

============  =====  ==========================================================================
Parameter     Type   Description
============  =====  ==========================================================================
sample_count  int    Samples per pixel (> 0). Default 4.
seed          int    Seed of the random sequence (>= 0). Default 0.
============  =====  ==========================================================================

Exposes ``sample_count`` and ``seed``.

Example::

    tr.load_dict({"type": "independent", "sample_count": 64})
"""

from __future__ import annotations

from ..core.registry import Plugin, register


@register("sampler", "independent")
class IndependentSampler(Plugin):
    """Uniform independent samples; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.sample_count = props.get_int("sample_count", 4)
        if self.sample_count <= 0:
            props.error(f"'sample_count' must be > 0, got {self.sample_count}", "sample_count")
        self.seed = props.get_int("seed", 0)
        if self.seed < 0:
            props.error(f"'seed' must be >= 0, got {self.seed}", "seed")
