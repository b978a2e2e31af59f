"""Reconstruction filter plugins: ``box``, ``gaussian`` (host data)."""

from . import box, gaussian

__all__ = ["box", "gaussian"]
