"""Integrator plugins: ``path``, ``prb``, ``direct``, ``prb_projective``, ``direct_projective`` (host configuration; the rendering methods
live with them)."""

from . import direct, path, prb, projective

__all__ = ["direct", "path", "prb", "projective"]
