"""BSDF plugins: defaults, named IORs and metals, validation errors."""

import numpy as np
import pytest

import taichi_render as tr
from taichi_render.bsdfs.conductor import METALS
from taichi_render.bsdfs.dielectric import IOR_TABLE
from taichi_render.textures.bitmap import BitmapTexture
from taichi_render.textures.rgb import RGBTexture


def _value(tex):
    assert isinstance(tex, RGBTexture)
    return tex.value


# ---- diffuse ----
def test_diffuse_default_and_texture():
    d = tr.load_dict({"type": "diffuse"})
    np.testing.assert_allclose(_value(d.reflectance), [0.5] * 3)
    d = tr.load_dict({"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.1, 0.2, 0.3]}})
    np.testing.assert_allclose(_value(d.reflectance), [0.1, 0.2, 0.3], rtol=1e-6)
    d = tr.load_dict(
        {"type": "diffuse", "reflectance": {"type": "bitmap", "data": np.ones((2, 2, 3))}}
    )
    assert isinstance(d.reflectance, BitmapTexture)


def test_diffuse_errors():
    with pytest.raises(tr.SceneError, match="'reflectance' expects a texture"):
        tr.load_dict({"type": "diffuse", "reflectance": "red"})
    with pytest.raises(tr.SceneError, match="'albedo'"):
        tr.load_dict({"type": "diffuse", "albedo": 0.3})


# ---- twosided ----
def test_twosided_one_and_two_children():
    t = tr.load_dict({"type": "twosided", "material": {"type": "diffuse", "reflectance": 0.3}})
    assert len(t.brdf) == 2 and t.brdf[0] is t.brdf[1]
    np.testing.assert_allclose(_value(t.brdf[0].reflectance), [0.3] * 3, rtol=1e-6)
    t = tr.load_dict(
        {
            "type": "twosided",
            "front": {"type": "diffuse", "reflectance": 0.1},
            "back": {"type": "conductor"},
        }
    )
    assert t.brdf[0].type_name == "diffuse" and t.brdf[1].type_name == "conductor"


def test_twosided_errors():
    with pytest.raises(tr.SceneError, match="one or two nested bsdf"):
        tr.load_dict({"type": "twosided"})
    three = {f"b{i}": {"type": "diffuse"} for i in range(3)}
    with pytest.raises(tr.SceneError, match="at most two.*got 3"):
        tr.load_dict({"type": "twosided", **three})
    with pytest.raises(tr.SceneError, match="without transmission.*'dielectric'"):
        tr.load_dict({"type": "twosided", "bsdf": {"type": "dielectric"}})


# ---- dielectric / thindielectric ----
def test_ior_table_is_mitsubas():
    assert len(IOR_TABLE) == 23
    assert IOR_TABLE["bk7"] == 1.5046 and IOR_TABLE["air"] == 1.000277
    assert IOR_TABLE["polypropylene"] == 1.49 and IOR_TABLE["diamond"] == 2.419
    assert IOR_TABLE["water ice"] == 1.31 and IOR_TABLE["carbon tetrachloride"] == 1.461


@pytest.mark.parametrize("type_name", ["dielectric", "thindielectric"])
def test_dielectric_defaults(type_name):
    b = tr.load_dict({"type": type_name})
    assert b.int_ior == 1.5046 and b.ext_ior == 1.000277
    assert b.eta == pytest.approx(1.5046 / 1.000277)
    np.testing.assert_allclose(_value(b.specular_reflectance), [1, 1, 1])
    np.testing.assert_allclose(_value(b.specular_transmittance), [1, 1, 1])


@pytest.mark.parametrize("type_name", ["dielectric", "thindielectric"])
def test_dielectric_named_and_float_ior(type_name):
    b = tr.load_dict({"type": type_name, "int_ior": "Water", "ext_ior": 1.0})
    assert b.int_ior == 1.333 and b.ext_ior == 1.0 and b.eta == pytest.approx(1.333)
    b = tr.load_dict({"type": type_name, "int_ior": 2, "specular_transmittance": 0.5})
    assert b.int_ior == 2.0
    np.testing.assert_allclose(_value(b.specular_transmittance), [0.5] * 3)


@pytest.mark.parametrize("bad", [0.0, -1.5, float("inf"), float("nan")])
def test_dielectric_rejects_bad_ior(bad):
    with pytest.raises(tr.SceneError, match="'int_ior' must be a finite value > 0"):
        tr.load_dict({"type": "dielectric", "int_ior": bad})
    with pytest.raises(tr.SceneError, match="'ext_ior' must be a finite value > 0"):
        tr.load_dict({"type": "thindielectric", "ext_ior": bad})


def test_dielectric_unknown_ior_name_lists_choices():
    with pytest.raises(tr.SceneError, match="unknown IOR name 'glass'.*bk7"):
        tr.load_dict({"type": "dielectric", "int_ior": "glass"})
    with pytest.raises(tr.SceneError, match="'ext_ior' expects a float"):
        tr.load_dict({"type": "dielectric", "ext_ior": [1.0, 1.0, 1.0]})


# ---- conductor ----
def test_conductor_default_is_perfect_mirror():
    c = tr.load_dict({"type": "conductor"})
    assert c.material == "none" and c.perfect_mirror is True
    np.testing.assert_array_equal(c.eta, [0, 0, 0])
    np.testing.assert_array_equal(c.k, [1, 1, 1])
    assert c.eta.dtype == np.float32 and c.k.shape == (3,)
    np.testing.assert_allclose(_value(c.specular_reflectance), [1, 1, 1])


@pytest.mark.parametrize("name", ["Au", "Ag", "Al", "Cu", "Cr"])
def test_conductor_named_metals(name):
    c = tr.load_dict({"type": "conductor", "material": name})
    np.testing.assert_allclose(c.eta, METALS[name][0], rtol=1e-6)
    np.testing.assert_allclose(c.k, METALS[name][1], rtol=1e-6)
    assert c.perfect_mirror is False
    assert np.all(c.k > 1.5)  # metals absorb strongly


def test_conductor_gold_is_yellow():
    # normal-incidence Fresnel reflectance ((n-1)^2 + k^2) / ((n+1)^2 + k^2): red > green > blue
    c = tr.load_dict({"type": "conductor", "material": "Au"})
    n, k = c.eta.astype(np.float64), c.k.astype(np.float64)
    r = ((n - 1) ** 2 + k**2) / ((n + 1) ** 2 + k**2)
    assert r[0] > r[1] > r[2] and r[0] > 0.9


def test_conductor_explicit_eta_k():
    c = tr.load_dict({"type": "conductor", "eta": [0.2, 0.9, 1.1], "k": 3.0})
    np.testing.assert_allclose(c.eta, [0.2, 0.9, 1.1], rtol=1e-6)
    np.testing.assert_allclose(c.k, [3, 3, 3])
    assert c.perfect_mirror is False


def test_conductor_errors():
    with pytest.raises(tr.SceneError, match="either 'material' or 'eta'"):
        tr.load_dict({"type": "conductor", "material": "Au", "eta": 0.2})
    with pytest.raises(tr.SceneError, match="unknown conductor material 'Unobtainium'.*Au"):
        tr.load_dict({"type": "conductor", "material": "Unobtainium"})
    with pytest.raises(tr.SceneError, match="'k' must be finite and >= 0"):
        tr.load_dict({"type": "conductor", "k": -1.0})
    with pytest.raises(tr.SceneError, match="unused property 'k'"):
        tr.load_dict({"type": "conductor", "material": "Cu", "k": 2.0})
    with pytest.raises(tr.SceneError, match="'eta' expects a color"):
        tr.load_dict({"type": "conductor", "eta": {"type": "bitmap", "data": np.ones((2, 2, 3))}})


# ---- roughconductor ----
def test_roughconductor_defaults():
    r = tr.load_dict({"type": "roughconductor"})
    assert r.distribution == "beckmann" and r.alpha_u == r.alpha_v == 0.1
    assert r.sample_visible is True and r.perfect_mirror is True


def test_roughconductor_options():
    r = tr.load_dict(
        {
            "type": "roughconductor",
            "distribution": "ggx",
            "alpha_u": 0.05,
            "alpha_v": 0.3,
            "material": "Al",
            "sample_visible": False,
        }
    )
    assert r.distribution == "ggx" and (r.alpha_u, r.alpha_v) == (0.05, 0.3)
    np.testing.assert_allclose(r.eta, METALS["Al"][0], rtol=1e-6)
    assert r.sample_visible is False


def test_roughconductor_errors():
    with pytest.raises(tr.SceneError, match="'alpha' must be a finite value > 0"):
        tr.load_dict({"type": "roughconductor", "alpha": 0.0})
    with pytest.raises(tr.SceneError, match="'alpha_v' must be a finite value > 0"):
        tr.load_dict({"type": "roughconductor", "alpha_u": 0.1, "alpha_v": -0.1})
    with pytest.raises(tr.SceneError, match="given together.*'alpha_v' is missing"):
        tr.load_dict({"type": "roughconductor", "alpha_u": 0.1})
    with pytest.raises(tr.SceneError, match="either 'alpha' or 'alpha_u'"):
        tr.load_dict({"type": "roughconductor", "alpha": 0.1, "alpha_u": 0.1, "alpha_v": 0.1})
    with pytest.raises(tr.SceneError, match="'alpha' must be a float: textured roughness"):
        tr.load_dict(
            {"type": "roughconductor", "alpha": {"type": "bitmap", "data": np.ones((2, 2, 1))}}
        )
    with pytest.raises(tr.SceneError, match="invalid distribution 'phong'"):
        tr.load_dict({"type": "roughconductor", "distribution": "phong"})


# ---- plastic ----
def test_plastic_defaults_and_options():
    p = tr.load_dict({"type": "plastic"})
    assert p.int_ior == 1.49 and p.ext_ior == 1.000277 and p.nonlinear is False
    np.testing.assert_allclose(_value(p.diffuse_reflectance), [0.5] * 3)
    np.testing.assert_allclose(_value(p.specular_reflectance), [1.0] * 3)
    p = tr.load_dict(
        {
            "type": "plastic",
            "int_ior": "diamond",
            "nonlinear": True,
            "diffuse_reflectance": [0.1, 0.27, 0.36],
        }
    )
    assert p.int_ior == 2.419 and p.nonlinear is True
    assert p.eta == pytest.approx(2.419 / 1.000277)
    np.testing.assert_allclose(_value(p.diffuse_reflectance), [0.1, 0.27, 0.36], rtol=1e-6)


def test_plastic_errors():
    with pytest.raises(tr.SceneError, match="'int_ior' must be a finite value > 0"):
        tr.load_dict({"type": "plastic", "int_ior": -1.0})
    with pytest.raises(tr.SceneError, match="'nonlinear' expects a boolean"):
        tr.load_dict({"type": "plastic", "nonlinear": 1})
