"""Integrator plugins: ``path``, ``prb``, ``direct`` (host configuration; the rendering methods
live with them)."""

from . import direct, path, prb

__all__ = ["direct", "path", "prb"]
