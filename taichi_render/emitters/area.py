"""Area light (Mitsuba's ``area``): a shape that emits from its front side.

=========  =====================  ===============================================================
Parameter  Type                   Description
=========  =====================  ===============================================================
radiance   texture | float | rgb  Emitted radiance (W / (m^2 sr), linear RGB). Default 1, as
                                  Mitsuba. Textures are looked up with the shape's uv.
=========  =====================  ===============================================================

Must be nested in a shape (the shape's ``emitter``); it takes no ``to_world`` (it inherits the
shape's, as in Mitsuba), and one area emitter belongs to a single shape. Emits only on the side
the (possibly flipped) normal points to.

Exposes ``radiance`` (texture plugin) and ``shape`` (the owning shape, set by the shape; None
until then).

Example::

    tr.load_dict({"type": "rectangle",
                  "emitter": {"type": "area",
                              "radiance": {"type": "rgb", "value": [18.4, 14.0, 6.8]}}})
"""

from __future__ import annotations

from ..core.registry import Plugin, register


@register("emitter", "area")
class AreaEmitter(Plugin):
    """Diffuse area light; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        if props.has("to_world"):
            props.error(
                "an area emitter takes no 'to_world': it inherits the transform of its shape",
                "to_world",
            )
        self.radiance = props.get_texture("radiance", 1.0)
        self.shape = None
