"""Projective-sampling integrators (Mitsuba's ``prb_projective`` and ``direct_projective``,
Zhang et al. 2023): ``prb`` (path replay) plus the boundary terms of vertex-position
derivatives where visibility changes.

=============== ======  =====================================================================
Parameter       Type    Description
=============== ======  =====================================================================
max_depth       int     ``prb_projective`` only, as ``path``: -1 (default, unbounded) or >= 0.
                        ``direct_projective`` renders direct light (max_depth 2).
rr_depth        int     ``prb_projective`` only: Russian roulette start depth. Default 5.
hide_emitters   bool    Hide directly visible emitters. Default false.
sppc            int     Samples per pixel of the interior (continuous) derivatives. Default:
                        the render's spp.
sppp            int     Samples per pixel of the primary-visibility boundary term (edge samples
                        = sppp x width x height). Default: the render's spp.
sppi            int     Camera paths per pixel of the indirect-visibility boundary term (one
                        edge sample at one vertex of each), and point-shadow samples per pixel
                        (sppi x width x height). Default: the render's spp.
guiding         string  ``none``, ``grid`` or ``octree`` (Mitsuba's default): Mitsuba's guiding
                        of indirect-visibility samples. Read and checked; edge samples here are
                        drawn by edge length without guiding.
guiding_proj    bool    Read for Mitsuba compatibility. Default true.
guiding_rounds  int     Read for Mitsuba compatibility. Default 1.
=============== ======  =====================================================================

The primal image is ``prb``'s. Vertex-position gradients (reverse mode under ``ti.ad.Tape``, the
torch bridge, and ``tr.render_forward``) add to ``prb``'s interior terms two boundary terms,
estimated by edge sampling (Li et al. 2018):

- primary visibility (render/boundary/primary_edges.py): silhouettes, mesh boundaries and flat-shaded
  creases seen by the camera;
- indirect visibility (render/boundary/indirect_edges.py): what a diffuse path vertex sees changes at
  the edges of moving meshes: shadow boundaries of area lights and environment emitters,
  silhouettes seen after a bounce;
- point-light shadows (render/boundary/point_shadow_edges.py; a point light is a delta in direction
  space, so the term above misses it): edge points on the silhouettes seen from the light
  (``sppi`` x width x height samples), the shadow boundary behind them on diffuse surfaces
  the camera sees, splatted where the camera sees it; and (render/boundary/bounced_point_shadows.py)
  the same shadows as a diffuse vertex of ``sppi`` camera paths per pixel sees them.

Edges are drawn among those of meshes whose vertex derivatives are wanted, and among all edges
where static ones move too: as seen from a moving vertex, and in the shadows they cast on
moving receivers or under moving lights. With the film's
``sample_border`` the terms also cover the film's border, so that shapes entering or leaving
the image move its outer pixels (Mitsuba's projective integrators recommend it too); without
it, what lies outside the image changes nothing.

Exposes ``max_depth``, ``rr_depth``, ``hide_emitters``, ``sppc``, ``sppp``, ``sppi`` (None
when not given), ``guiding``, ``guiding_proj``, ``guiding_rounds``.

Example::

    tr.load_dict({"type": "prb_projective", "max_depth": 3, "sppp": 8})
"""

from __future__ import annotations

from ..core.registry import Plugin, register
from .path import read_path_options

GUIDING = ("none", "grid", "octree")


def read_projective_options(integrator, props) -> None:
    for name in ("sppc", "sppp", "sppi"):
        value = props.get_int(name, -1) if props.has(name) else None
        if value is not None and value < 1:
            props.error(f"'{name}' must be >= 1, got {value}", name)
        setattr(integrator, name, value)
    integrator.guiding = props.get_string("guiding", "octree").lower()
    if integrator.guiding not in GUIDING:
        props.error(f"'guiding' must be one of {', '.join(GUIDING)}, got {integrator.guiding!r}", "guiding")
    integrator.guiding_proj = props.get_bool("guiding_proj", True)
    integrator.guiding_rounds = props.get_int("guiding_rounds", 1)
    if integrator.guiding_rounds < 1:
        props.error(f"'guiding_rounds' must be >= 1, got {integrator.guiding_rounds}", "guiding_rounds")


@register("integrator", "prb_projective")
class PRBProjectiveIntegrator(Plugin):
    """``prb`` with primary-visibility boundary terms; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_path_options(self, props)
        read_projective_options(self, props)


@register("integrator", "direct_projective")
class DirectProjectiveIntegrator(Plugin):
    """Direct light (``prb_projective`` with max_depth 2); see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.max_depth = 2
        self.rr_depth = 5
        self.hide_emitters = props.get_bool("hide_emitters", False)
        read_projective_options(self, props)
