"""Smooth conductor (Mitsuba's ``conductor``), and the named-metal table.

====================  =====================  ================================================
Parameter             Type                   Description
====================  =====================  ================================================
material              string                 ``"none"`` (default): eta/k from the properties
                                             below, i.e. a perfect mirror unless given; or a
                                             metal name of `METALS` (``Au``, ``Ag``, ``Al``,
                                             ``Cu``, ``Cr``). Not together with ``eta``.
eta                   float | rgb            Real part of the complex IOR. Default 0.
k                     float | rgb            Imaginary part (absorption). Default 1.
specular_reflectance  texture | float | rgb  Scales the reflection. Default 1.
====================  =====================  ================================================

Exposes ``eta``, ``k`` (``np.ndarray (3,) float32``, finite, >= 0), ``material`` (str),
``perfect_mirror`` (bool: eta == 0 and k == 1 in every channel, where the Fresnel term is exactly
1, which is Mitsuba's default) and ``specular_reflectance`` (texture plugin). Textured eta/k are
not supported (a texture other than ``rgb`` is an error).

Named metals: Mitsuba integrates measured spectra (``data/ior/<name>.{eta,k}.spd``) to RGB. We
store fixed RGB values instead: the CIE-integrated RGB values of the same measured data as
tabulated by the Tungsten renderer (``src/core/bsdfs/ComplexIorData.hpp``, B. Bitterli). They
approximate Mitsuba 3's RGB-mode values to a few percent.

Example::

    tr.load_dict({"type": "conductor", "material": "Au"})
    tr.load_dict({"type": "conductor", "eta": [0.2, 0.92, 1.1], "k": [3.9, 2.45, 2.14]})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import Plugin, register

#: name -> (eta RGB, k RGB); see the module docstring for the source.
METALS = {
    "Ag": ((0.1552646, 0.1167233, 0.1383807), (4.8283433, 3.1222459, 2.1469504)),
    "Al": ((1.6574600, 0.8803690, 0.5212287), (9.2238692, 6.2695232, 4.8370012)),
    "Au": ((0.1431190, 0.3749570, 1.4424786), (3.9831604, 2.3857207, 1.6032153)),
    "Cr": ((4.3696829, 2.9167025, 1.6547005), (5.2064338, 4.2313645, 3.7549468)),
    "Cu": ((0.2004377, 0.9240334, 1.1022120), (3.9129485, 2.4528477, 2.1421880)),
}


def _read_positive_color(props, name: str, default: float) -> np.ndarray:
    value = props.get_color(name, default)
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        props.error(f"'{name}' must be finite and >= 0, got {value.tolist()}", name)
    return value


def read_conductor(plugin, props) -> None:
    """Read ``material``/``eta``/``k``/``specular_reflectance`` (shared with roughconductor)."""
    plugin.material = props.get_string("material", "none")
    if props.has("eta") or plugin.material == "none":
        if plugin.material != "none":
            props.error("give either 'material' or 'eta'/'k', not both", "eta")
        plugin.eta = _read_positive_color(props, "eta", 0.0)
        plugin.k = _read_positive_color(props, "k", 1.0)
    else:
        if plugin.material not in METALS:
            props.error(
                f"unknown conductor material {plugin.material!r}; available: "
                f"{', '.join(['none', *METALS])}",
                "material",
            )
        eta, k = METALS[plugin.material]
        plugin.eta = np.array(eta, dtype=np.float32)
        plugin.k = np.array(k, dtype=np.float32)
    plugin.perfect_mirror = bool(np.all(plugin.eta == 0.0) and np.all(plugin.k == 1.0))
    plugin.specular_reflectance = props.get_texture("specular_reflectance", 1.0)


@register("bsdf", "conductor")
class ConductorBSDF(Plugin):
    """Smooth metal; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_conductor(self, props)
