"""Lambertian BSDF (Mitsuba's ``diffuse``): ``f = reflectance / pi`` on the front side.

===========  =====================  ===========================================
Parameter    Type                   Description
===========  =====================  ===========================================
reflectance  texture | float | rgb  Diffuse albedo. Default 0.5.
===========  =====================  ===========================================

Exposes ``reflectance`` (a texture plugin; a float or color is wrapped in ``rgb``). One-sided as
in Mitsuba: the back side is black (wrap it in ``twosided`` for both sides).

Example::

    tr.load_dict({"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.2, 0.25, 0.7]}})
"""

from __future__ import annotations

from ..core.registry import Plugin, register


@register("bsdf", "diffuse")
class DiffuseBSDF(Plugin):
    """Lambertian reflection; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.reflectance = props.get_texture("reflectance", 0.5)
