"""Emitter plugins: ``area``, ``point``, ``constant``, ``envmap`` (host data; see each module)."""

from . import area, constant, envmap, point

__all__ = ["area", "constant", "envmap", "point"]
