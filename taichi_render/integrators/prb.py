"""Path replay backpropagation (Mitsuba's ``prb``), the differentiable path tracer: host
configuration.

=============  =====  ===========================================================================
Parameter      Type   Description
=============  =====  ===========================================================================
max_depth      int    As ``path``: -1 (default, unbounded) or >= 0.
rr_depth       int    Russian roulette start depth (> 0). Default 5.
hide_emitters  bool   Hide directly visible emitters. Default false.
=============  =====  ===========================================================================

Exposes ``max_depth``, ``rr_depth``, ``hide_emitters``.

Example::

    tr.load_dict({"type": "prb", "max_depth": 3})
"""

from __future__ import annotations

from ..core.registry import Plugin, register
from .path import read_path_options


@register("integrator", "prb")
class PRBIntegrator(Plugin):
    """Differentiable path tracer (primal + adjoint replay); see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_path_options(self, props)
