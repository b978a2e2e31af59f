"""BSDF plugins: ``diffuse``, ``twosided``, ``dielectric``, ``thindielectric``, ``conductor``,
``roughconductor``, ``plastic`` (host data; see each module)."""

from . import conductor, dielectric, diffuse, plastic, roughconductor, thindielectric, twosided

__all__ = [
    "conductor",
    "dielectric",
    "diffuse",
    "plastic",
    "roughconductor",
    "thindielectric",
    "twosided",
]
