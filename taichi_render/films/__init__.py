"""Film plugins: ``hdrfilm`` (host data)."""

from . import hdrfilm

__all__ = ["hdrfilm"]
