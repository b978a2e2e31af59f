"""Thin dielectric sheet (Mitsuba's ``thindielectric``): a window pane with no refraction.

======================  =====================  ============================================
Parameter               Type                   Description
======================  =====================  ============================================
int_ior                 float | string         Interior IOR (float or a name of
                                               `dielectric.IOR_TABLE`). Default ``"bk7"``.
ext_ior                 float | string         Exterior IOR. Default ``"air"``.
specular_reflectance    texture | float | rgb  Default 1.
specular_transmittance  texture | float | rgb  Default 1.
======================  =====================  ============================================

Exposes the same attributes as ``dielectric``: ``int_ior``, ``ext_ior``, ``eta``,
``specular_reflectance``, ``specular_transmittance``.

Example::

    tr.load_dict({"type": "thindielectric", "int_ior": 1.5})
"""

from __future__ import annotations

from ..core.registry import Plugin, register
from .dielectric import read_dielectric


@register("bsdf", "thindielectric")
class ThinDielectricBSDF(Plugin):
    """Thin glass sheet; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_dielectric(self, props)
