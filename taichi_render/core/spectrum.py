"""Spectra to RGB, as Mitsuba 3's RGB variants convert ``<spectrum>`` values.

- A single value ``v`` is a uniform spectrum: RGB ``(v, v, v)``, never clamped.
- ``wavelength:value`` pairs (nm, increasing) or an ``.spd`` file are scaled by
  `CIE_Y_NORMALIZATION` (so that a unit spectrum has luminance 1), integrated against the CIE
  1931 2-degree colour matching functions (1000 midpoint-free samples over [360, 830] nm,
  linear interpolation between the given pairs, zero outside them), then converted from XYZ to
  linear sRGB (Rec. 709 primaries, D65 white) with Mitsuba's matrix.
- Bounded spectra (reflectances: not inside an emitter, and not the unbounded properties ``eta``,
  ``k``, ``int_ior``, ``ext_ior``) are clamped to [0, 1]; unbounded ones to [0, inf).
"""

from __future__ import annotations

import os
import re

import numpy as np

CIE_MIN = 360.0  #: nm
CIE_MAX = 830.0  #: nm
CIE_SAMPLES = 95  #: 5 nm spacing
#: A unit spectrum integrated against y-bar gives this; Mitsuba divides by it.
CIE_Y_NORMALIZATION = 1.0 / 106.7502593994140625
#: Properties whose spectra are not reflectances (Mitsuba's ``is_unbounded_spectrum``).
UNBOUNDED_NAMES = frozenset({"eta", "k", "int_ior", "ext_ior"})

# CIE 1931 2-degree standard observer, 360..830 nm every 5 nm (x-bar, y-bar, z-bar rows).
# fmt: off
_CIE_X = [
    0.0001299, 0.0002321, 0.0004149, 0.0007416, 0.001368, 0.002236, 0.004243, 0.00765,
    0.01431, 0.02319, 0.04351, 0.07763, 0.13438, 0.21477, 0.2839, 0.3285, 0.34828, 0.34806,
    0.3362, 0.3187, 0.2908, 0.2511, 0.19536, 0.1421, 0.09564, 0.05795001, 0.03201, 0.0147,
    0.0049, 0.0024, 0.0093, 0.0291, 0.06327, 0.1096, 0.1655, 0.2257499, 0.2904, 0.3597,
    0.4334499, 0.5120501, 0.5945, 0.6784, 0.7621, 0.8425, 0.9163, 0.9786, 1.0263, 1.0567,
    1.0622, 1.0456, 1.0026, 0.9384, 0.8544499, 0.7514, 0.6424, 0.5419, 0.4479, 0.3608,
    0.2835, 0.2187, 0.1649, 0.1212, 0.0874, 0.0636, 0.04677, 0.0329, 0.0227, 0.01584,
    0.01135916, 0.008110916, 0.005790346, 0.004109457, 0.002899327, 0.00204919, 0.001439971,
    0.0009999493, 0.0006900786, 0.0004760213, 0.0003323011, 0.0002348261, 0.0001661505,
    0.000117413, 8.307527e-05, 5.870652e-05, 4.150994e-05, 2.935326e-05, 2.067383e-05,
    1.455977e-05, 1.025398e-05, 7.221456e-06, 5.085868e-06, 3.581652e-06, 2.522525e-06,
    1.776509e-06, 1.251141e-06,
]
_CIE_Y = [
    3.917e-06, 6.965e-06, 1.239e-05, 2.202e-05, 3.9e-05, 6.4e-05, 0.00012, 0.000217, 0.000396,
    0.00064, 0.00121, 0.00218, 0.004, 0.0073, 0.0116, 0.01684, 0.023, 0.0298, 0.038, 0.048,
    0.06, 0.0739, 0.09098, 0.1126, 0.13902, 0.1693, 0.20802, 0.2586, 0.323, 0.4073, 0.503,
    0.6082, 0.71, 0.7932, 0.862, 0.9148501, 0.954, 0.9803, 0.9949501, 1.0, 0.995, 0.9786,
    0.952, 0.9154, 0.87, 0.8163, 0.757, 0.6949, 0.631, 0.5668, 0.503, 0.4412, 0.381, 0.321,
    0.265, 0.217, 0.175, 0.1382, 0.107, 0.0816, 0.061, 0.04458, 0.032, 0.0232, 0.017, 0.01192,
    0.00821, 0.005723, 0.004102, 0.002929, 0.002091, 0.001484, 0.001047, 0.00074, 0.00052,
    0.0003611, 0.0002492, 0.0001719, 0.00012, 8.48e-05, 6e-05, 4.24e-05, 3e-05, 2.12e-05,
    1.499e-05, 1.06e-05, 7.4657e-06, 5.2578e-06, 3.7029e-06, 2.6078e-06, 1.8366e-06,
    1.2934e-06, 9.1093e-07, 6.4153e-07, 4.5181e-07,
]
_CIE_Z = [
    0.0006061, 0.001086, 0.001946, 0.003486, 0.006450001, 0.01054999, 0.02005001, 0.03621,
    0.06785001, 0.1102, 0.2074, 0.3713, 0.6456, 1.0390501, 1.3856, 1.62296, 1.74706, 1.7826,
    1.77211, 1.7441, 1.6692, 1.5281, 1.28764, 1.0419, 0.8129501, 0.6162, 0.46518, 0.3533,
    0.272, 0.2123, 0.1582, 0.1117, 0.07824999, 0.05725001, 0.04216, 0.02984, 0.0203, 0.0134,
    0.008749999, 0.005749999, 0.0039, 0.002749999, 0.0021, 0.0018, 0.001650001, 0.0014,
    0.0011, 0.001, 0.0008, 0.0006, 0.00034, 0.00024, 0.00019, 0.0001, 4.999999e-05, 3e-05,
    2e-05, 1e-05,
] + [0.0] * 37
# fmt: on
#: (95, 3) float64: the CIE 1931 table (Mitsuba stores it in float32; so do we, then widen).
CIE_TABLE = np.stack([_CIE_X, _CIE_Y, _CIE_Z], axis=1).astype(np.float32).astype(np.float64)

#: XYZ -> linear sRGB (Rec. 709), Mitsuba's ``xyz_to_srgb``.
XYZ_TO_SRGB = np.array(
    [
        [3.240479, -1.537150, -0.498535],
        [-0.969256, 1.875991, 0.041556],
        [0.055648, -0.204043, 1.057311],
    ]
)
#: Linear sRGB -> XYZ, Mitsuba's ``srgb_to_xyz`` (row 1 gives the luminance).
SRGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)


def cie1931_xyz(wavelengths) -> np.ndarray:
    """CIE 1931 matching functions at ``wavelengths`` (nm, any shape) -> shape + (3,), float64.

    Linear interpolation in the 5 nm table; zero outside [360, 830] nm.
    """
    lam = np.asarray(wavelengths, dtype=np.float64)
    t = (lam - CIE_MIN) * ((CIE_SAMPLES - 1) / (CIE_MAX - CIE_MIN))
    i0 = np.clip(np.floor(t).astype(np.int64), 0, CIE_SAMPLES - 2)
    w1 = (t - i0)[..., None]
    out = (1.0 - w1) * CIE_TABLE[i0] + w1 * CIE_TABLE[i0 + 1]
    inside = (lam >= CIE_MIN) & (lam <= CIE_MAX)
    return np.where(inside[..., None], out, 0.0)


def xyz_to_srgb(xyz) -> np.ndarray:
    """XYZ (..., 3) -> linear sRGB (..., 3), float64."""
    return np.asarray(xyz, dtype=np.float64) @ XYZ_TO_SRGB.T


def luminance(rgb) -> np.ndarray:
    """Luminance (Y) of linear sRGB values (..., 3)."""
    return np.asarray(rgb, dtype=np.float64) @ SRGB_TO_XYZ[1]


def spectrum_list_to_srgb(wavelengths, values, bounded: bool = True) -> np.ndarray:
    """Integrate a piecewise-linear spectrum against the CIE curves -> linear sRGB (3,) float64.

    ``wavelengths`` (nm, increasing) and ``values`` are 1-D of equal length >= 2. The result is
    NOT normalized here (see `spectrum_to_rgb`); it is clamped to [0, 1] when ``bounded``, to
    [0, inf) otherwise. Mirrors Mitsuba's ``spectrum_list_to_srgb``.
    """
    wl = np.asarray(wavelengths, dtype=np.float64).ravel()
    val = np.asarray(values, dtype=np.float64).ravel()
    if wl.size < 2 or wl.size != val.size:
        raise ValueError("a spectrum needs at least two wavelength:value pairs")
    if np.any(np.diff(wl) < 0):
        raise ValueError("wavelengths must be specified in increasing order")
    steps = 1000
    x = CIE_MIN + np.arange(steps) / (steps - 1) * (CIE_MAX - CIE_MIN)
    x = x[(x >= wl[0]) & (x <= wl[-1])]
    idx = np.clip(np.searchsorted(wl, x, side="right") - 1, 0, wl.size - 2)
    x0, x1, y0, y1 = wl[idx], wl[idx + 1], val[idx], val[idx + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(x1 > x0, (x * y0 - x1 * y0 - x * y1 + x0 * y1) / (x0 - x1), y0)
    xyz = (cie1931_xyz(x) * y[:, None]).sum(axis=0) * ((CIE_MAX - CIE_MIN) / steps)
    rgb = xyz_to_srgb(xyz)
    return np.clip(rgb, 0.0, 1.0) if bounded else np.maximum(rgb, 0.0)


def spectrum_from_file(path) -> tuple[np.ndarray, np.ndarray]:
    """Read an ``.spd`` file: lines ``wavelength value``; blank lines and ``#`` comments skipped.

    Returns (wavelengths, values), float64 1-D. Raises `ValueError` on a malformed line and
    `FileNotFoundError` when the file is missing.
    """
    wavelengths, values = [], []
    with open(os.fspath(path), encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split()
            try:
                if len(parts) != 2:
                    raise ValueError
                wavelengths.append(float(parts[0]))
                values.append(float(parts[1]))
            except ValueError:
                raise ValueError(
                    f"{path}:{lineno}: expected 'wavelength value', got {s!r}"
                ) from None
    return np.array(wavelengths), np.array(values)


_PAIR_SPLIT = re.compile(r"[,\s]+")


def parse_spectrum_value(text: str):
    """Parse a ``<spectrum value=...>`` string.

    Returns a float for a single value, or (wavelengths, values) float64 arrays for
    ``"400:0.1, 500:0.2, ..."``. Raises `ValueError` with the offending token.
    """
    tokens = [t for t in _PAIR_SPLIT.split(text.strip()) if t]
    if len(tokens) == 1:
        try:
            return float(tokens[0])
        except ValueError:
            raise ValueError(f"could not parse constant spectrum {tokens[0]!r}") from None
    if not tokens:
        raise ValueError("empty spectrum value")
    wl, val = [], []
    for tok in tokens:
        pair = tok.split(":")
        if len(pair) != 2:
            raise ValueError(f"invalid spectrum token {tok!r} (expected wavelength:value pairs)")
        try:
            wl.append(float(pair[0]))
            val.append(float(pair[1]))
        except ValueError:
            raise ValueError(f"could not parse wavelength:value pair {tok!r}") from None
    return np.array(wl), np.array(val)


def spectrum_to_rgb(
    value=None, wavelengths=None, values=None, within_emitter: bool = False, name: str = ""
) -> np.ndarray:
    """RGB (3,) float32 of a Mitsuba spectrum, as the RGB variants compute it.

    Give either a constant ``value`` (-> ``(v, v, v)``) or ``wavelengths`` and ``values``. The
    pairs are scaled by `CIE_Y_NORMALIZATION` and integrated; they are clamped to [0, 1] unless
    ``within_emitter`` or ``name`` is one of `UNBOUNDED_NAMES` (then only negatives are clamped).
    """
    if wavelengths is None:
        return np.full(3, float(value), dtype=np.float32)
    bounded = not (within_emitter or name in UNBOUNDED_NAMES)
    vals = np.asarray(values, dtype=np.float64) * CIE_Y_NORMALIZATION
    return spectrum_list_to_srgb(wavelengths, vals, bounded=bounded).astype(np.float32)
