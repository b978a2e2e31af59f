"""Sensor plugins: ``perspective`` (host data and a numpy ray reference) and ``batch``
(sub-sensors side by side on one film)."""

from . import batch, perspective

__all__ = ["batch", "perspective"]
