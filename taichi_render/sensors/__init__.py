"""Sensor plugins: ``perspective`` (host data and a numpy ray reference)."""

from . import perspective

__all__ = ["perspective"]
