"""Rough dielectric interface (Mitsuba's ``roughdielectric``, Walter et al. 2007).

======================  =====================  ============================================
Parameter               Type                   Description
======================  =====================  ============================================
int_ior, ext_ior        float | string         As for ``dielectric`` (defaults ``"bk7"``,
                                               ``"air"``).
specular_reflectance    texture | float | rgb  Scales the reflected part. Default 1.
specular_transmittance  texture | float | rgb  Scales the transmitted part. Default 1.
distribution            string                 ``beckmann`` (default, as Mitsuba) or ``ggx``.
alpha                   float                  Isotropic roughness. Default 0.1.
alpha_u, alpha_v        float                  Anisotropic roughness; both or neither, not
                                               with ``alpha``.
sample_visible          bool                   Sample visible normals. Default true.
======================  =====================  ============================================

Reflection ``F D G / (4 |cos_i|)`` and refraction through microfacets with the generalized half
vector; transmitted radiance is scaled by ``1 / eta^2`` (the solid-angle compression), as
Mitsuba does in radiance mode. Both lobes are smooth: a sampled microfacet normal reflects with
probability F and refracts otherwise, and emitter sampling sees both sides of the surface.

Exposes ``int_ior``, ``ext_ior``, ``eta`` (floats > 0), ``specular_reflectance``,
``specular_transmittance`` (texture plugins), ``distribution``, ``alpha_u``, ``alpha_v`` and
``sample_visible``. Parameter keys (Mitsuba's): ``eta``, ``alpha.value`` (or
``alpha_u.value``/``alpha_v.value``), ``specular_reflectance.value``,
``specular_transmittance.value``.

Example::

    tr.load_dict({"type": "roughdielectric", "distribution": "ggx", "alpha": 0.2,
                  "int_ior": "bk7"})
"""

from __future__ import annotations

from ..core.registry import Plugin, register
from .dielectric import read_dielectric
from .roughconductor import read_microfacet


@register("bsdf", "roughdielectric")
class RoughDielectricBSDF(Plugin):
    """Frosted glass; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_dielectric(self, props)  # also the two texture slots
        read_microfacet(self, props)
