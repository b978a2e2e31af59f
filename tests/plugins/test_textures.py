"""Texture plugins: rgb, bitmap (files, data, uv convention, wrap and filter), checkerboard."""

import imageio.v3 as iio
import numpy as np
import pytest

import taichi_render as tr
from taichi_render.core.properties import Properties
from taichi_render.core.registry import create
from taichi_render.io.bitmap import srgb_to_linear, write_bitmap
from taichi_render.textures.bitmap import BitmapTexture, wrap_index
from taichi_render.textures.rgb import RGBTexture

T = tr.ScalarTransform4f


# ---- rgb ----
def test_rgb_value_and_gray():
    t = tr.load_dict({"type": "rgb", "value": [0.1, 0.2, 0.3]})
    assert isinstance(t, RGBTexture)
    assert t.value.dtype == np.float32 and t.value.shape == (3,)
    np.testing.assert_allclose(t.value, [0.1, 0.2, 0.3], rtol=1e-6)
    # the dict loader turns {"type": "rgb"} into a color; a texture slot wraps it into rgb
    d = tr.load_dict({"type": "diffuse", "reflectance": 0.25})
    np.testing.assert_allclose(d.reflectance.value, [0.25] * 3)


def test_rgb_built_from_properties():
    props = Properties("rgb", location="test.xml:3", kind="texture")
    props.set("value", 0.7)
    t = create("texture", "rgb", props)
    np.testing.assert_allclose(t.value, [0.7, 0.7, 0.7], rtol=1e-6)
    np.testing.assert_allclose(t.eval_numpy([[0.1, 0.2], [0.5, 0.5]]), [[0.7] * 3] * 2, rtol=1e-6)


def test_rgb_errors():
    props = Properties("rgb", location="test.xml:3", kind="texture")
    with pytest.raises(tr.SceneError, match="'value'.*missing"):
        create("texture", "rgb", props)
    props = Properties("rgb", location="test.xml:3", kind="texture")
    props.set("value", [1.0, float("nan"), 0.0], tag="color")
    with pytest.raises(tr.SceneError, match="'value' must be finite"):
        create("texture", "rgb", props)
    props = Properties("rgb", location="test.xml:3", kind="texture")
    props.set("value", 0.5)
    props.set("scale", 2.0, location="test.xml:5")
    with pytest.raises(tr.SceneError, match=r"test\.xml:5.*'scale'"):
        create("texture", "rgb", props)


# ---- bitmap from data ----
def _data_texture(**kw):
    data = np.array(
        [[[0.0], [1.0]], [[2.0], [3.0]]], dtype=np.float32
    )  # 2x2, 1 channel: row 0 = (0, 1), row 1 = (2, 3)
    return tr.load_dict({"type": "bitmap", "data": data, **kw})


def test_bitmap_data_defaults():
    t = _data_texture()
    assert isinstance(t, BitmapTexture)
    assert t.data.shape == (2, 2, 1) and t.data.dtype == np.float32
    assert t.filter_type == "bilinear" and t.wrap_mode == "repeat" and t.raw is False
    np.testing.assert_array_equal(t.to_uv, np.eye(3, dtype=np.float32))
    assert t.to_uv.dtype == np.float32
    assert t.resolution == (2, 2)
    assert t.filename is None


def test_bitmap_uv_convention_v_down():
    t = _data_texture(filter_type="nearest")
    # v = 0 is the top row of the image, u = 0 the left column
    np.testing.assert_array_equal(t.eval_numpy([[0.25, 0.25]]), [[0.0]])
    np.testing.assert_array_equal(t.eval_numpy([[0.75, 0.25]]), [[1.0]])
    np.testing.assert_array_equal(t.eval_numpy([[0.25, 0.75]]), [[2.0]])


def test_bitmap_bilinear_reference():
    t = _data_texture()
    # texel centers are exact; between two centers the values average
    np.testing.assert_allclose(t.eval_numpy([[0.25, 0.25]]), [[0.0]])
    np.testing.assert_allclose(t.eval_numpy([[0.5, 0.25]]), [[0.5]])
    np.testing.assert_allclose(t.eval_numpy([[0.5, 0.5]]), [[1.5]])
    # repeat: u = 1.25 is u = 0.25
    np.testing.assert_allclose(t.eval_numpy([[1.25, 0.75]]), [[2.0]])


@pytest.mark.parametrize(
    "mode, expected", [("repeat", [1, 0, 1, 0]), ("clamp", [0, 0, 1, 1]), ("mirror", [0, 0, 1, 1])]
)
def test_wrap_index(mode, expected):
    # indices -1, 0, 1, 2 on a 2-texel axis (mirror equals clamp one texel out)
    np.testing.assert_array_equal(wrap_index(np.array([-1, 0, 1, 2]), 2, mode), expected)
    assert wrap_index(np.array([-3]), 4, "mirror")[0] == 2  # ... 2 1 0 | 0 1 2 3 | 3 2 ...


def test_bitmap_to_uv_from_4x4():
    t = _data_texture(to_uv=T().translate([0.5, 0.25, 7.0]).scale([2.0, 3.0, 4.0]))
    np.testing.assert_allclose(t.to_uv, [[2, 0, 0.5], [0, 3, 0.25], [0, 0, 1]])
    # to_uv is applied before the lookup: uv (0, 0) -> (0.5, 0.25)
    t2 = _data_texture(filter_type="nearest", to_uv=T().translate([0.5, 0.0, 0.0]))
    np.testing.assert_array_equal(t2.eval_numpy([[0.25, 0.25]]), [[1.0]])


def test_bitmap_rgb_data_and_errors():
    t = tr.load_dict({"type": "bitmap", "data": np.ones((3, 4, 3)), "wrap_mode": "clamp"})
    assert t.data.shape == (3, 4, 3) and t.wrap_mode == "clamp"
    with pytest.raises(tr.SceneError, match="'data' must have shape"):
        tr.load_dict({"type": "bitmap", "data": np.ones((3, 4, 4))})
    with pytest.raises(tr.SceneError, match="'data' must have shape"):
        tr.load_dict({"type": "bitmap", "data": np.ones((3, 4, 2, 1))})
    bad = np.ones((2, 2, 3))
    bad[0, 0, 0] = np.inf
    with pytest.raises(tr.SceneError, match="non-finite"):
        tr.load_dict({"type": "bitmap", "data": bad})
    with pytest.raises(tr.SceneError, match="filter_type"):
        _data_texture(filter_type="trilinear")
    with pytest.raises(tr.SceneError, match="wrap_mode"):
        _data_texture(wrap_mode="wrap")
    with pytest.raises(tr.SceneError, match="exactly one of 'filename' and 'data'"):
        tr.load_dict({"type": "bitmap"})
    with pytest.raises(tr.SceneError, match="'raw' expects a boolean"):
        _data_texture(raw="yes")


# ---- bitmap from files ----
def test_bitmap_png_srgb_decoded_and_raw(tmp_path):
    pixels = np.array([[[128, 0, 255, 10], [64, 32, 16, 255]]], dtype=np.uint8)  # RGBA, 1x2
    path = tmp_path / "tex.png"
    iio.imwrite(path, pixels)
    t = tr.load_dict({"type": "bitmap", "filename": str(path)})
    assert t.data.shape == (1, 2, 3)  # alpha dropped
    np.testing.assert_allclose(t.data, srgb_to_linear(pixels[..., :3] / 255.0), atol=1e-6)
    assert abs(t.data[0, 0, 0] - 0.2158605) < 1e-5
    raw = tr.load_dict({"type": "bitmap", "filename": str(path), "raw": True})
    np.testing.assert_allclose(raw.data, pixels[..., :3] / 255.0, atol=1e-6)
    assert raw.filename == str(path)


def test_bitmap_gray_png_keeps_one_channel(tmp_path):
    path = tmp_path / "gray.png"
    iio.imwrite(path, np.full((3, 2), 255, dtype=np.uint8))
    t = tr.load_dict({"type": "bitmap", "filename": str(path)})
    assert t.data.shape == (3, 2, 1)
    np.testing.assert_allclose(t.data, 1.0, atol=1e-6)


def test_bitmap_exr_is_linear(tmp_path):
    img = np.random.default_rng(1).uniform(0, 4, size=(5, 7, 3)).astype(np.float32)
    path = tmp_path / "tex.exr"
    write_bitmap(path, img)
    for raw in (False, True):
        t = tr.load_dict({"type": "bitmap", "filename": str(path), "raw": raw})
        np.testing.assert_array_equal(t.data, img)


def test_bitmap_missing_file_names_property(tmp_path):
    with pytest.raises(tr.SceneError, match="'filename'.*not found|not found.*nope.png"):
        tr.load_dict({"type": "bitmap", "filename": str(tmp_path / "nope.png")})


# ---- checkerboard ----
def test_checkerboard_defaults_and_pattern():
    c = tr.load_dict({"type": "checkerboard"})
    np.testing.assert_allclose(c.color0.value, [0.4] * 3, rtol=1e-6)
    np.testing.assert_allclose(c.color1.value, [0.2] * 3, rtol=1e-6)
    np.testing.assert_array_equal(c.to_uv, np.eye(3))
    got = c.eval_numpy([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75], [1.25, 0.25]])
    np.testing.assert_allclose(got[:, 0], [0.4, 0.2, 0.2, 0.4, 0.4], rtol=1e-6)


def test_checkerboard_to_uv_and_nested_texture():
    c = tr.load_dict(
        {
            "type": "checkerboard",
            "color0": {"type": "bitmap", "data": np.full((2, 2, 3), 0.9)},
            "color1": [0.0, 0.5, 1.0],
            "to_uv": T.scale([2.0, 2.0, 1.0]),
        }
    )
    assert isinstance(c.color0, BitmapTexture)
    np.testing.assert_allclose(c.to_uv, np.diag([2.0, 2.0, 1.0]))
    # (0.3, 0.1) -> (0.6, 0.2): different halves -> color1
    np.testing.assert_allclose(c.eval_numpy([[0.3, 0.1]]), [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(c.eval_numpy([[0.1, 0.1]]), [[0.9, 0.9, 0.9]], rtol=1e-6)


def test_checkerboard_unknown_property():
    with pytest.raises(tr.SceneError, match="'color2'"):
        tr.load_dict({"type": "checkerboard", "color2": 0.3})
