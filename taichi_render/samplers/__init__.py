"""Sampler plugins: ``independent`` (host data)."""

from . import independent

__all__ = ["independent"]
