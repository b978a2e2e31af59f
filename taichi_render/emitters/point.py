"""Point light (Mitsuba's ``point``): an isotropic point source.

=========  =============  =========================================================================
Parameter  Type           Description
=========  =============  =========================================================================
intensity  float | rgb    Radiant intensity (W / sr, linear RGB). Default 1.
position   point          World-space position. Alternatively ``to_world`` (the light sits at its
                          translation). Not both. Default the origin.
=========  =============  =========================================================================

Exposes ``intensity`` (an ``rgb`` texture: ``intensity.value`` (3,) float32, finite, >= 0) and ``position``
(``np.ndarray (3,) float64``), ``to_world`` (``(4, 4) float64``: ``translate(position)`` when
``position`` is given).

Example::

    tr.load_dict({"type": "point", "position": [0, 0.9, 0], "intensity": [5, 5, 5]})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import Plugin, register


def read_nonnegative_color(props, name: str, default):
    """A finite, non-negative color property as an ``rgb`` texture (its ``value`` (3,) float32),
    so that parameters are named ``<id>.<name>.value`` as in Mitsuba."""
    tex = props.get_texture(name, default)
    if tex.type_name != "rgb":
        props.error(f"'{name}' must be a color (rgb, spectrum or float), got a {tex.type_name} texture", name)
    value = np.asarray(tex.value)
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        props.error(f"'{name}' must be finite and >= 0, got {value.tolist()}", name)
    return tex


@register("emitter", "point")
class PointEmitter(Plugin):
    """Isotropic point light; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.intensity = read_nonnegative_color(props, "intensity", 1.0)
        if props.has("position"):
            if props.has("to_world"):
                props.error("give either 'position' or 'to_world', not both", "position")
            self.position = props.get_point3("position")
            self.to_world = np.eye(4)
            self.to_world[:3, 3] = self.position
        else:
            self.to_world = props.get_transform("to_world")
            self.position = self.to_world[:3, 3].copy()
        if not np.all(np.isfinite(self.to_world)):
            props.error(
                "the position must be finite", "position" if props.has("position") else "to_world"
            )
