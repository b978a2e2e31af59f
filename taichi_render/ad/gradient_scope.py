"""Where vertex-position gradients are partial, said once per shape.

The interior terms of vertex-position derivatives (render/device/shape_derivatives.py) and the
boundary terms at path vertices cover diffuse surfaces: light reflected by a moving mesh whose
BSDF is not diffuse (a conductor, a plastic, a dielectric) changes with its vertices in ways
those terms leave out. Differentiating such a mesh's ``vertex_positions`` still works, with
silhouettes seen by the camera (primary visibility) and the shadows it casts on diffuse
surfaces, but the gradient misses the change of its own shading: `warn_non_diffuse` says so
with a `PartialGradientWarning` when its key is first marked.
"""

from __future__ import annotations

import warnings


class PartialGradientWarning(UserWarning):
    """A marked parameter's gradient leaves out some of its effect on the image (the message
    says which); turn it into an error with
    ``warnings.simplefilter("error", tr.ad.PartialGradientWarning)``."""


def _leaf_kinds(bsdf) -> set[str]:
    """The plugin names of the BSDFs a surface shades with (both sides of a ``twosided``)."""
    if bsdf is None:
        return {"diffuse"}  # a shape's default BSDF
    if bsdf.type_name == "twosided":
        return set().union(*(_leaf_kinds(child) for child in bsdf.brdf))
    return {bsdf.type_name}


def warn_non_diffuse(keys_and_shapes) -> None:
    """For each (``vertex_positions`` key, mesh) pair whose mesh shades with a BSDF other than
    ``diffuse``, warn that the key's gradient leaves out its shading's change (once per mesh)."""
    seen = set()
    for key, shape in keys_and_shapes:
        if id(shape) in seen:
            continue
        seen.add(id(shape))
        others = sorted(_leaf_kinds(getattr(shape, "bsdf", None)) - {"diffuse"})
        if others:
            warnings.warn(
                f"gradients of {key!r} cover diffuse surfaces: the shape's BSDF ({', '.join(others)}) "
                "is not, and the change of the light it reflects as its vertices move is left out "
                "(its silhouettes and the shadows it casts on diffuse surfaces count)",
                PartialGradientWarning,
                stacklevel=4,
            )
