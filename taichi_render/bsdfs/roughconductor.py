"""Rough conductor with a microfacet distribution (Mitsuba's ``roughconductor``).

====================  =====================  ================================================
Parameter             Type                   Description
====================  =====================  ================================================
material, eta, k,     see ``conductor``      Complex IOR and scale, as for ``conductor``.
specular_reflectance
distribution          string                 ``beckmann`` (default, as Mitsuba) or ``ggx``.
alpha                 float                  Isotropic roughness (RMS slope). Default 0.1.
alpha_u, alpha_v      float                  Anisotropic roughness along the tangent and
                                             bitangent; both or neither, not with ``alpha``.
sample_visible        bool                   Sample the distribution of visible normals.
                                             Default true.
====================  =====================  ================================================

Exposes everything ``conductor`` does plus ``distribution`` (str), ``alpha_u``, ``alpha_v``
(Python floats, finite, > 0) and ``sample_visible``. Roughness is a plain float here: a texture
for ``alpha``/``alpha_u``/``alpha_v`` is an error.

Example::

    tr.load_dict({"type": "roughconductor", "material": "Al", "distribution": "ggx",
                  "alpha": 0.2})
"""

from __future__ import annotations

import math

from ..core.registry import Plugin, register
from .conductor import read_conductor

DISTRIBUTIONS = ("beckmann", "ggx")


def _read_alpha(props, name: str, default: float = 0.1) -> float:
    if props.has(name) and props.entry(name).tag == "plugin":
        props.error(f"'{name}' must be a float: textured roughness is not supported", name)
    value = props.get_float(name, default)
    if not math.isfinite(value) or value <= 0.0:
        props.error(f"'{name}' must be a finite value > 0, got {value}", name)
    return value


def read_microfacet(plugin, props) -> None:
    """Read ``distribution``, ``alpha`` or ``alpha_u``/``alpha_v`` and ``sample_visible``."""
    plugin.distribution = props.get_string("distribution", "beckmann")
    if plugin.distribution not in DISTRIBUTIONS:
        props.error(
            f"invalid distribution {plugin.distribution!r}; expected 'beckmann' or 'ggx'",
            "distribution",
        )
    if props.has("alpha_u") or props.has("alpha_v"):
        if not (props.has("alpha_u") and props.has("alpha_v")):
            missing = "alpha_v" if props.has("alpha_u") else "alpha_u"
            props.error(
                f"'alpha_u' and 'alpha_v' must be given together ('{missing}' is missing)",
                "alpha_u" if missing == "alpha_v" else "alpha_v",
            )
        if props.has("alpha"):
            props.error("give either 'alpha' or 'alpha_u'/'alpha_v', not both", "alpha")
        plugin.alpha_u = _read_alpha(props, "alpha_u")
        plugin.alpha_v = _read_alpha(props, "alpha_v")
    else:
        plugin.alpha_u = plugin.alpha_v = _read_alpha(props, "alpha")
    plugin.sample_visible = props.get_bool("sample_visible", True)


@register("bsdf", "roughconductor")
class RoughConductorBSDF(Plugin):
    """Microfacet metal; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_conductor(self, props)
        read_microfacet(self, props)
