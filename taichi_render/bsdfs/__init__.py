"""BSDF plugins: ``diffuse``, ``twosided``, ``dielectric``, ``thindielectric``, ``conductor``,
``roughconductor``, ``roughdielectric``, ``plastic``, ``roughplastic`` (host data; see each module)."""

from . import (
    conductor,
    dielectric,
    diffuse,
    plastic,
    roughconductor,
    roughdielectric,
    roughplastic,
    thindielectric,
    twosided,
)

__all__ = [
    "conductor",
    "dielectric",
    "diffuse",
    "plastic",
    "roughconductor",
    "roughdielectric",
    "roughplastic",
    "thindielectric",
    "twosided",
]
