"""Two-sided adapter (Mitsuba's ``twosided``): makes one-sided BRDFs reflect on both sides.

================  =====  ================================================================
Parameter         Type   Description
================  =====  ================================================================
(nested bsdf)     bsdf   One BSDF: used on both sides. Two BSDFs: the first on the front
                         side, the second on the back side (declaration order).
================  =====  ================================================================

Exposes ``brdf``: a list of two BSDF plugins ``[front, back]`` (the same object twice when one
child is given). Parameter keys are ``brdf_0``/``brdf_1`` as in Mitsuba's ``traverse``.
Children with a transmission component (``dielectric``, ``thindielectric``,
``roughdielectric``) are rejected, as in
Mitsuba.

Example::

    tr.load_dict({"type": "twosided",
                  "material": {"type": "diffuse", "reflectance": [0.8, 0.2, 0.2]}})
"""

from __future__ import annotations

from ..core.registry import Plugin, register

#: BSDF types with a transmission component (not allowed inside ``twosided``).
TRANSMISSIVE_TYPES = ("dielectric", "thindielectric", "roughdielectric")


@register("bsdf", "twosided")
class TwoSidedBSDF(Plugin):
    """Front/back BRDF pair; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        children = props.children("bsdf")
        if not children:
            props.error("needs one or two nested bsdf plugins, got none")
        if len(children) > 2:
            props.error(
                f"accepts at most two nested bsdf plugins, got {len(children)}", children[2][0]
            )
        for name, child in children:
            if child.type_name in TRANSMISSIVE_TYPES:
                props.error(
                    f"only materials without transmission can be nested, got {child.type_name!r}",
                    name,
                )
        self.brdf = [children[0][1], children[-1][1]]
