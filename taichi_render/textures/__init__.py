"""Texture plugins: ``rgb``, ``bitmap``, ``checkerboard`` (host data; see each module)."""

from . import bitmap, checkerboard, rgb

__all__ = ["bitmap", "checkerboard", "rgb"]
