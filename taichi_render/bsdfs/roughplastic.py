"""Rough plastic: a diffuse base under a rough dielectric coating (Mitsuba's ``roughplastic``).

====================  =====================  ================================================
Parameter             Type                   Description
====================  =====================  ================================================
diffuse_reflectance   texture | float | rgb  Albedo of the diffuse base. Default 0.5.
specular_reflectance  texture | float | rgb  Scales the specular coating. Default 1.
int_ior, ext_ior      float | string         Coating and exterior IOR, as for ``plastic``
                                             (defaults ``"polypropylene"``, ``"air"``).
nonlinear             bool                   Color shift from internal scattering, as for
                                             ``plastic``. Default false.
distribution          string                 ``beckmann`` (default, as Mitsuba) or ``ggx``.
alpha                 float                  Roughness of the coating (isotropic only, as in
                                             Mitsuba). Default 0.1.
sample_visible        bool                   Sample visible normals. Default true.
====================  =====================  ================================================

The model is Mitsuba 3's (after Weidlich and Wilkie 2007): the coating reflects with a microfacet
lobe ``F D G / (4 cos_i)``, and the base is seen through it, weighted by the coating's
transmittance on the way in and out, ``T(cos_i) T(cos_o)``, the albedo of its refraction lobe.
``T`` is tabulated at 64 cosines when the scene is packed (`rough_transmittance`), and the
internal reflectance of the base's light inside the coating is the cosine-weighted mean of the
reflection lobe's albedo for ``1 / eta``.

Exposes ``diffuse_reflectance``, ``specular_reflectance`` (texture plugins), ``int_ior``,
``ext_ior``, ``eta`` (floats > 0), ``nonlinear`` (bool), ``distribution`` (str), ``alpha`` (float >
0) and ``sample_visible``. Parameter keys (Mitsuba's): ``diffuse_reflectance.value``,
``specular_reflectance.value``, ``alpha``, ``eta``.

Example::

    tr.load_dict({"type": "roughplastic", "distribution": "ggx", "alpha": 0.2,
                  "diffuse_reflectance": [0.1, 0.27, 0.36]})
"""

from __future__ import annotations

import functools

import numpy as np

from ..core.registry import Plugin, register
from .plastic import read_plastic
from .roughconductor import read_microfacet

TRANSMITTANCE_RESOLUTION = 64  # cosines of the coating's transmittance table (Mitsuba's)


@register("bsdf", "roughplastic")
class RoughPlasticBSDF(Plugin):
    """Coated diffuse material with a rough coating; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        read_plastic(self, props)
        read_microfacet(self, props)
        if self.alpha_u != self.alpha_v:
            props.error("'roughplastic' supports isotropic roughness only (give 'alpha')", "alpha_u")
        self.alpha = self.alpha_u


def _fresnel_dielectric(cos_i: np.ndarray, eta: float) -> np.ndarray:
    """Unpolarized Fresnel reflectance of a dielectric interface (numpy, cos_i in [-1, 1])."""
    eta_it = np.where(cos_i >= 0.0, eta, 1.0 / eta)
    c = np.abs(cos_i)
    sin2_t = (1.0 - c * c) / (eta_it * eta_it)
    cos_t = np.sqrt(np.maximum(1.0 - sin2_t, 0.0))
    a_s = (c - eta_it * cos_t) / (c + eta_it * cos_t)
    a_p = (eta_it * c - cos_t) / (eta_it * c + cos_t)
    return np.where(sin2_t >= 1.0, 1.0, 0.5 * (a_s * a_s + a_p * a_p))


def _smith_g1(v: np.ndarray, m: np.ndarray, alpha: float, ggx: bool) -> np.ndarray:
    """Smith's masking of direction v for normal m (the device code's formulas), (N, 3) arrays."""
    cos2 = v[..., 2] ** 2
    tan2 = np.maximum(1.0 - cos2, 0.0) / np.maximum(cos2, 1e-30)
    if ggx:
        g = 2.0 / (1.0 + np.sqrt(1.0 + alpha * alpha * tan2))
    else:
        a = 1.0 / np.maximum(alpha * np.sqrt(tan2), 1e-30)
        g = np.where(a >= 1.6, 1.0, (3.535 * a + 2.181 * a * a) / (1.0 + 2.276 * a + 2.577 * a * a))
    return np.where(np.sum(v * m, axis=-1) * v[..., 2] > 0.0, g, 0.0)


def coating_albedo(cos_i: np.ndarray, alpha: float, ggx: bool, eta: float,
                   nodes: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Directional albedos of a rough dielectric interface seen from direction cos_i: the
    reflected part R, the integral of F D G / (4 cos_i) over outgoing directions (Mitsuba's
    `eval_reflectance`), and the transmitted part T, the same integral of the refraction lobe
    without its radiance scale (Mitsuba's `eval_transmittance`). 1 - R - T is what single
    scattering loses to shadowing.

    Gauss-Legendre quadrature over the two sample dimensions of the normal distribution
    D(m) cos(theta_m): each node reflects (refracts) wi about m and weighs F G (wo . m) /
    (cos_i cos_m) ((1 - F) G1(wi) G1(wo) (wi . m) / (cos_i cos_m)).
    cos_i: (N,) float64 in (0, 1]. Returns two (N,) float64 arrays."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    u = 0.5 * (x + 1.0)
    wu = 0.5 * w
    u1, u2 = np.meshgrid(u, u, indexing="ij")
    weight = np.outer(wu, wu).ravel()
    u1, u2 = u1.ravel(), u2.ravel()
    tan2 = alpha * alpha * (u1 / (1.0 - u1) if ggx else -np.log1p(-u1))
    cos_m = 1.0 / np.sqrt(1.0 + tan2)
    sin_m = np.sqrt(np.maximum(1.0 - cos_m * cos_m, 0.0))
    phi = 2.0 * np.pi * u2
    m = np.stack([sin_m * np.cos(phi), sin_m * np.sin(phi), cos_m], axis=-1)
    reflected = np.empty(len(cos_i))
    transmitted = np.empty(len(cos_i))
    for k, mu in enumerate(np.asarray(cos_i, np.float64)):
        wi = np.array([np.sqrt(max(1.0 - mu * mu, 0.0)), 0.0, mu])
        c = m @ wi  # wi . m
        g_i = _smith_g1(np.broadcast_to(wi, m.shape), m, alpha, ggx)
        f = _fresnel_dielectric(c, eta)
        jac = np.where(c > 0.0, c / (mu * cos_m), 0.0)  # the D cos -> visible normals reweighting
        wo = 2.0 * c[:, None] * m - wi
        g = g_i * _smith_g1(wo, m, alpha, ggx)
        reflected[k] = np.sum(np.where(wo[:, 2] > 0.0, f * g * jac, 0.0) * weight)
        inv_eta = 1.0 / eta
        cos_t2 = 1.0 - inv_eta * inv_eta * (1.0 - c * c)
        wt = (inv_eta * c - np.sqrt(np.maximum(cos_t2, 0.0)))[:, None] * m - inv_eta * wi
        g = g_i * _smith_g1(wt, m, alpha, ggx)
        ok = (wt[:, 2] < 0.0) & (cos_t2 > 0.0)
        transmitted[k] = np.sum(np.where(ok, (1.0 - f) * g * jac, 0.0) * weight)
    return reflected, transmitted


@functools.lru_cache(maxsize=64)
def rough_transmittance(alpha: float, ggx: bool, eta: float) -> tuple[np.ndarray, float]:
    """(external transmittance table, internal reflectance) of a rough plastic's coating.

    table: (TRANSMITTANCE_RESOLUTION,) float64, T(mu) at mu = k / (RES - 1) (mu >= 1e-6), looked
    up by linear interpolation in cos_theta. Internal reflectance: 2 * mean(R'(mu) mu) over the
    same cosines, with R' the reflected albedo seen from inside (1 / eta).

    Cached by (alpha, ggx, eta), and the table is read-only: a scene is re-packed whenever its
    vertices move, and only these three values change the tables (as in Mitsuba's
    ``parameters_changed``)."""
    mu = np.maximum(1e-6, np.linspace(0.0, 1.0, TRANSMITTANCE_RESOLUTION))
    _, table = coating_albedo(mu, alpha, ggx, eta)
    internal, _ = coating_albedo(mu, alpha, ggx, 1.0 / eta)
    table.flags.writeable = False
    return table, float(np.mean(internal * mu) * 2.0)
