"""Smooth dielectric interface (Mitsuba's ``dielectric``), and the named IOR table.

======================  =====================  ============================================
Parameter               Type                   Description
======================  =====================  ============================================
int_ior                 float | string         Interior index of refraction, or a name from
                                               `IOR_TABLE`. Default ``"bk7"`` (1.5046).
ext_ior                 float | string         Exterior index of refraction. Default ``"air"``
                                               (1.000277).
specular_reflectance    texture | float | rgb  Scales the reflected part. Default 1.
specular_transmittance  texture | float | rgb  Scales the transmitted part. Default 1.
======================  =====================  ============================================

Exposes ``int_ior``, ``ext_ior`` (Python floats, > 0), ``eta = int_ior / ext_ior``,
``specular_reflectance`` and ``specular_transmittance`` (texture plugins).

Example::

    tr.load_dict({"type": "dielectric", "int_ior": "water", "ext_ior": 1.0})
"""

from __future__ import annotations

import math

from ..core.registry import Plugin, register

#: Mitsuba's named indices of refraction (``include/mitsuba/render/ior.h``; values at ~589 nm,
#: mostly from Hecht, Optics).
IOR_TABLE = {
    "vacuum": 1.0,
    "helium": 1.000036,
    "hydrogen": 1.000132,
    "air": 1.000277,
    "carbon dioxide": 1.00045,
    "water": 1.3330,
    "acetone": 1.36,
    "ethanol": 1.361,
    "carbon tetrachloride": 1.461,
    "glycerol": 1.4729,
    "benzene": 1.501,
    "silicone oil": 1.52045,
    "bromine": 1.661,
    "water ice": 1.31,
    "fused quartz": 1.458,
    "pyrex": 1.470,
    "acrylic glass": 1.49,
    "polypropylene": 1.49,
    "bk7": 1.5046,
    "sodium chloride": 1.544,
    "amber": 1.55,
    "pet": 1.5750,
    "diamond": 2.419,
}


def read_ior(props, name: str, default: str) -> float:
    """An IOR property: a float, or a name from `IOR_TABLE` (case-insensitive), as Mitsuba's
    ``lookup_ior``. Must be finite and > 0."""
    if props.has(name) and props.entry(name).tag == "string":
        key = props.get_string(name).lower()
        if key not in IOR_TABLE:
            props.error(
                f"unknown IOR name {key!r} for '{name}'; valid names: {', '.join(IOR_TABLE)}",
                name,
            )
        return IOR_TABLE[key]
    if not props.has(name):
        return IOR_TABLE[default]
    value = props.get_float(name)
    if not math.isfinite(value) or value <= 0.0:
        props.error(f"'{name}' must be a finite value > 0, got {value}", name)
    return value


def read_dielectric(plugin, props, default_int: str = "bk7") -> None:
    """The properties shared by ``dielectric`` and ``thindielectric``."""
    plugin.int_ior = read_ior(props, "int_ior", default_int)
    plugin.ext_ior = read_ior(props, "ext_ior", "air")
    plugin.eta = plugin.int_ior / plugin.ext_ior
    plugin.specular_reflectance = props.get_texture("specular_reflectance", 1.0)
    plugin.specular_transmittance = props.get_texture("specular_transmittance", 1.0)


@register("bsdf", "dielectric")
class DielectricBSDF(Plugin):
    """Smooth glass-like interface; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_dielectric(self, props)
