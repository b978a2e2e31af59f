"""Smooth plastic: a diffuse base under a dielectric coating (Mitsuba's ``plastic``).

====================  =====================  ================================================
Parameter             Type                   Description
====================  =====================  ================================================
diffuse_reflectance   texture | float | rgb  Albedo of the diffuse base. Default 0.5.
specular_reflectance  texture | float | rgb  Scales the specular coating. Default 1.
int_ior               float | string         Coating IOR (float or a name of
                                             `dielectric.IOR_TABLE`). Default
                                             ``"polypropylene"`` (1.49).
ext_ior               float | string         Exterior IOR. Default ``"air"``.
nonlinear             bool                   Account for color shifts from internal
                                             scattering (Mitsuba's ``nonlinear``). Default
                                             false.
====================  =====================  ================================================

Exposes ``diffuse_reflectance``, ``specular_reflectance`` (texture plugins), ``int_ior``,
``ext_ior`` (floats > 0), ``eta = int_ior / ext_ior`` and ``nonlinear`` (bool).

Example::

    tr.load_dict({"type": "plastic", "diffuse_reflectance": [0.1, 0.27, 0.36],
                  "int_ior": 1.9})
"""

from __future__ import annotations

from ..core.registry import Plugin, register
from .dielectric import read_ior


def read_plastic(plugin, props) -> None:
    """Read the coating's IORs (and ``eta``), both texture slots and ``nonlinear`` (shared with
    ``roughplastic``)."""
    plugin.int_ior = read_ior(props, "int_ior", "polypropylene")
    plugin.ext_ior = read_ior(props, "ext_ior", "air")
    plugin.eta = plugin.int_ior / plugin.ext_ior
    plugin.diffuse_reflectance = props.get_texture("diffuse_reflectance", 0.5)
    plugin.specular_reflectance = props.get_texture("specular_reflectance", 1.0)
    plugin.nonlinear = props.get_bool("nonlinear", False)


@register("bsdf", "plastic")
class PlasticBSDF(Plugin):
    """Coated diffuse material; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_plastic(self, props)
