"""Direct illumination (Mitsuba's ``direct``): host configuration.

===============  =====  =========================================================================
Parameter        Type   Description
===============  =====  =========================================================================
shading_samples  int    Sets both counts below at once (>= 0). Default 1. Not together with
                        ``emitter_samples``/``bsdf_samples`` (Mitsuba's rule).
emitter_samples  int    Emitter samples per shading point (>= 0). Default ``shading_samples``.
bsdf_samples     int    BSDF samples per shading point (>= 0). Default ``shading_samples``.
hide_emitters    bool   Hide directly visible emitters. Default false.
===============  =====  =========================================================================

The two strategies are combined with multiple importance sampling (power heuristic).
Exposes ``emitter_samples``, ``bsdf_samples``, ``hide_emitters``.

Example::

    tr.load_dict({"type": "direct", "emitter_samples": 4, "bsdf_samples": 1})
"""

from __future__ import annotations

from ..core.registry import Plugin, register


def _read_count(props, name: str, default: int) -> int:
    value = props.get_int(name, default)
    if value < 0:
        props.error(f"'{name}' must be >= 0, got {value}", name)
    return value


@register("integrator", "direct")
class DirectIntegrator(Plugin):
    """Direct lighting with MIS; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        if props.has("shading_samples") and (
            props.has("emitter_samples") or props.has("bsdf_samples")
        ):
            props.error(
                "give either 'shading_samples' or 'emitter_samples'/'bsdf_samples', not both",
                "shading_samples",
            )
        shading = _read_count(props, "shading_samples", 1)
        self.emitter_samples = _read_count(props, "emitter_samples", shading)
        self.bsdf_samples = _read_count(props, "bsdf_samples", shading)
        self.hide_emitters = props.get_bool("hide_emitters", False)
