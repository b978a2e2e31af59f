"""Path tracer (Mitsuba's ``path``): host configuration.

=============  =====  ===========================================================================
Parameter      Type   Description
=============  =====  ===========================================================================
max_depth      int    Longest path, counted in vertices including the emitter: 1 shows only
                      directly visible emitters, 2 adds direct lighting; -1 (default) is
                      unbounded. Must be -1 or >= 0 (0 renders black), as in Mitsuba.
rr_depth       int    Depth from which Russian roulette may stop paths (> 0). Default 5.
hide_emitters  bool   Do not show emitters hit directly by camera rays. Default false.
=============  =====  ===========================================================================

Exposes ``max_depth``, ``rr_depth``, ``hide_emitters``.

Example::

    tr.load_dict({"type": "path", "max_depth": 3})
"""

from __future__ import annotations

from ..core.registry import Plugin, register


def read_path_options(integrator, props) -> None:
    """Read ``max_depth``, ``rr_depth`` and ``hide_emitters`` (shared by ``path`` and ``prb``)."""
    integrator.max_depth = props.get_int("max_depth", -1)
    if integrator.max_depth < -1:
        props.error(
            f"'max_depth' must be -1 (unbounded) or >= 0, got {integrator.max_depth}", "max_depth"
        )
    integrator.rr_depth = props.get_int("rr_depth", 5)
    if integrator.rr_depth <= 0:
        props.error(f"'rr_depth' must be > 0, got {integrator.rr_depth}", "rr_depth")
    integrator.hide_emitters = props.get_bool("hide_emitters", False)


@register("integrator", "path")
class PathIntegrator(Plugin):
    """Unidirectional path tracer with next-event estimation and MIS; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_path_options(self, props)
