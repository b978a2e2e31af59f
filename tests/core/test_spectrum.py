import numpy as np
import pytest

from taichi_render.core import spectrum as sp

# Linear sRGB of the equal-energy white (XYZ = (1, 1, 1)) with Mitsuba's XYZ -> sRGB matrix.
E_WHITE_SRGB = np.array([1.204794, 0.948291, 0.908916])


def test_cie_table_shape_and_values():
    assert sp.CIE_TABLE.shape == (95, 3)
    # y-bar peaks at 555 nm with value 1; x-bar has its main peak near 600 nm
    np.testing.assert_allclose(sp.cie1931_xyz(555.0), [0.51205, 1.0, 0.00575], rtol=1e-5)
    assert abs(sp.CIE_TABLE[:, 0].argmax() * 5 + 360 - 600) <= 5
    # linear interpolation between samples, zero outside [360, 830]
    mid = sp.cie1931_xyz(557.5)
    np.testing.assert_allclose(mid, 0.5 * (sp.cie1931_xyz(555.0) + sp.cie1931_xyz(560.0)))
    assert np.all(sp.cie1931_xyz([300.0, 900.0]) == 0)
    assert sp.cie1931_xyz(np.zeros((2, 5))).shape == (2, 5, 3)


def test_normalization_constant():
    """A unit spectrum over the whole CIE range has luminance 1 (Mitsuba's normalization)."""
    rgb = sp.spectrum_to_rgb(wavelengths=[360, 830], values=[1, 1], within_emitter=True)
    assert abs(sp.luminance(rgb) - 1.0) < 1e-4
    # and is (nearly) the equal-energy white point in linear sRGB
    np.testing.assert_allclose(rgb, E_WHITE_SRGB, rtol=2e-3)


def test_bounded_spectra_are_clamped_to_unit_range():
    rgb = sp.spectrum_to_rgb(wavelengths=[360, 830], values=[1, 1])
    np.testing.assert_allclose(rgb, [1.0, E_WHITE_SRGB[1], E_WHITE_SRGB[2]], rtol=2e-3)
    assert rgb.dtype == np.float32 and rgb.shape == (3,)


def test_unbounded_names_only_clamp_negatives():
    rgb = sp.spectrum_to_rgb(wavelengths=[360, 830], values=[2, 2], name="eta")
    assert rgb[0] > 2.0  # not clamped to 1
    for name in ("eta", "k", "int_ior", "ext_ior"):
        assert name in sp.UNBOUNDED_NAMES


def test_narrow_band_is_out_of_gamut_and_clamped():
    # a spike at 520 nm (saturated green) has negative red in sRGB
    wl, val = [515, 520, 525], [0, 100, 0]
    raw = sp.xyz_to_srgb(sp.cie1931_xyz(520.0))
    assert raw[0] < 0 and raw[1] > 0
    rgb = sp.spectrum_to_rgb(wavelengths=wl, values=val, within_emitter=True)
    assert rgb[0] == 0.0 and rgb[1] > 0
    bounded = sp.spectrum_to_rgb(wavelengths=wl, values=[0, 1000, 0])
    assert bounded.max() <= 1.0 and bounded.min() >= 0.0


def test_linear_in_values_and_zero_outside_given_range():
    a = sp.spectrum_list_to_srgb([400, 700], [0.2, 0.4], bounded=False)
    b = sp.spectrum_list_to_srgb([400, 700], [0.4, 0.8], bounded=False)
    np.testing.assert_allclose(b, 2 * a, rtol=1e-12)
    # more light outside [400, 700] adds luminance
    c = sp.spectrum_list_to_srgb(
        [300, 399.9, 400, 700, 700.1, 900], [5, 5, 0.2, 0.4, 5, 5], bounded=False
    )
    assert sp.luminance(c) > sp.luminance(a)
    # a box spectrum on [500, 600] integrates y-bar over that range only (trapezoid on the table)
    box = sp.spectrum_list_to_srgb([500, 600], [1, 1], bounded=False)
    ybar = sp.CIE_TABLE[(500 - 360) // 5 : (600 - 360) // 5 + 1, 1]
    expected_y = np.sum((ybar[1:] + ybar[:-1]) * 2.5)
    assert abs(sp.luminance(box) / expected_y - 1) < 0.01


def test_constant_spectrum_is_uniform_and_unclamped():
    np.testing.assert_array_equal(sp.spectrum_to_rgb(0.25), [0.25, 0.25, 0.25])
    np.testing.assert_array_equal(sp.spectrum_to_rgb(3.0), [3.0, 3.0, 3.0])


def test_parse_spectrum_value():
    assert sp.parse_spectrum_value(" 0.5 ") == 0.5
    wl, val = sp.parse_spectrum_value("400:0.1, 500:0.2 600:0.3")
    np.testing.assert_array_equal(wl, [400, 500, 600])
    np.testing.assert_array_equal(val, [0.1, 0.2, 0.3])
    for bad in ("abc", "400:0.1, 500", "400:a, 500:0.2", "", "550:0.5"):
        with pytest.raises(ValueError):
            sp.parse_spectrum_value(bad)


def test_decreasing_wavelengths_rejected():
    with pytest.raises(ValueError, match="increasing"):
        sp.spectrum_list_to_srgb([500, 400], [1, 1])


def test_spectrum_from_file(tmp_path):
    f = tmp_path / "s.spd"
    f.write_text("# comment\n\n400 0.1\n500 0.2\n600 0.3\n")
    wl, val = sp.spectrum_from_file(f)
    np.testing.assert_array_equal(wl, [400, 500, 600])
    np.testing.assert_array_equal(val, [0.1, 0.2, 0.3])
    bad = tmp_path / "bad.spd"
    bad.write_text("400 0.1 7\n")
    with pytest.raises(ValueError, match="bad.spd:1"):
        sp.spectrum_from_file(bad)
    with pytest.raises(FileNotFoundError):
        sp.spectrum_from_file(tmp_path / "missing.spd")
