"""Constant environment light (Mitsuba's ``constant``): uniform radiance from every direction.

=========  ============  =======================================================================
Parameter  Type          Description
=========  ============  =======================================================================
radiance   float | rgb   Emitted radiance (linear RGB). Default 1.
=========  ============  =======================================================================

Exposes ``radiance`` (an ``rgb`` texture: ``radiance.value`` (3,) float32, finite, >= 0). A white furnace: a diffuse
sphere of albedo ``a`` inside ``constant`` radiance ``L`` shows ``a * L`` (one bounce).

Example::

    tr.load_dict({"type": "constant", "radiance": 0.5})
"""

from __future__ import annotations

from ..core.registry import Plugin, register
from .point import read_nonnegative_color


@register("emitter", "constant")
class ConstantEmitter(Plugin):
    """Uniform environment; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.radiance = read_nonnegative_color(props, "radiance", 1.0)
