"""Emitter plugins: area, point, constant, envmap."""

import numpy as np
import pytest

import taichi_render as tr
from taichi_render.io.bitmap import write_bitmap

T = tr.ScalarTransform4f


def test_area_default_radiance_is_one():
    a = tr.load_dict({"type": "area"})
    np.testing.assert_allclose(a.radiance.value, [1, 1, 1])
    assert a.shape is None


def test_area_radiance_and_texture():
    a = tr.load_dict({"type": "area", "radiance": [18.387, 13.9873, 6.75357]})
    np.testing.assert_allclose(a.radiance.value, [18.387, 13.9873, 6.75357], rtol=1e-6)
    a = tr.load_dict(
        {"type": "area", "radiance": {"type": "bitmap", "data": np.full((2, 2, 3), 3.0)}}
    )
    assert a.radiance.type_name == "bitmap"


def test_area_errors():
    with pytest.raises(tr.SceneError, match="takes no 'to_world'"):
        tr.load_dict({"type": "area", "to_world": T.translate([1, 0, 0])})
    with pytest.raises(tr.SceneError, match="unused property 'intensity'"):
        tr.load_dict({"type": "area", "intensity": 2.0})


def test_point_position_and_to_world():
    p = tr.load_dict({"type": "point", "position": [0, 0.9, 0], "intensity": [5, 6, 7]})
    np.testing.assert_allclose(p.position, [0, 0.9, 0])
    np.testing.assert_allclose(p.intensity.value, [5, 6, 7])
    assert p.intensity.value.dtype == np.float32
    np.testing.assert_allclose(p.to_world, T.translate([0, 0.9, 0]).matrix)
    q = tr.load_dict({"type": "point", "to_world": T.translate([1, 2, 3])})
    np.testing.assert_allclose(q.position, [1, 2, 3])
    np.testing.assert_allclose(q.intensity.value, [1, 1, 1])
    np.testing.assert_allclose(tr.load_dict({"type": "point"}).position, [0, 0, 0])


def test_point_errors():
    with pytest.raises(tr.SceneError, match="either 'position' or 'to_world'"):
        tr.load_dict({"type": "point", "position": [0, 0, 0], "to_world": T.translate([1, 0, 0])})
    with pytest.raises(tr.SceneError, match="'intensity' must be finite and >= 0"):
        tr.load_dict({"type": "point", "intensity": -1.0})
    with pytest.raises(tr.SceneError, match="'position' expects a 3-vector"):
        tr.load_dict({"type": "point", "position": 1.0})


def test_constant():
    c = tr.load_dict({"type": "constant"})
    np.testing.assert_allclose(c.radiance.value, [1, 1, 1])
    c = tr.load_dict({"type": "constant", "radiance": 0.5})
    np.testing.assert_allclose(c.radiance.value, [0.5] * 3)
    with pytest.raises(tr.SceneError, match="'radiance' must be finite and >= 0"):
        tr.load_dict({"type": "constant", "radiance": [1.0, -0.1, 0.0]})


def test_envmap_from_data():
    data = np.random.default_rng(0).uniform(0, 2, size=(4, 8, 3))
    e = tr.load_dict(
        {"type": "envmap", "data": data, "scale": 2.0, "to_world": T.rotate([0, 1, 0], 90)}
    )
    assert e.data.shape == (4, 8, 3) and e.data.dtype == np.float32
    np.testing.assert_allclose(e.data, data, rtol=1e-6)
    assert e.scale == 2.0 and e.filename is None
    np.testing.assert_allclose(e.to_world, T.rotate([0, 1, 0], 90).matrix)
    gray = tr.load_dict({"type": "envmap", "data": np.ones((2, 4, 1))})
    assert gray.data.shape == (2, 4, 3) and gray.scale == 1.0


def test_envmap_from_file(tmp_path):
    img = np.random.default_rng(2).uniform(0, 5, size=(8, 16, 4)).astype(np.float32)
    path = tmp_path / "sky.exr"
    write_bitmap(path, img)
    e = tr.load_dict({"type": "envmap", "filename": str(path)})
    np.testing.assert_array_equal(e.data, img[..., :3])  # alpha dropped
    assert e.filename == str(path)


def test_envmap_errors(tmp_path):
    with pytest.raises(tr.SceneError, match="exactly one of 'filename' and 'data'"):
        tr.load_dict({"type": "envmap"})
    with pytest.raises(tr.SceneError, match="not found"):
        tr.load_dict({"type": "envmap", "filename": str(tmp_path / "nope.exr")})
    with pytest.raises(tr.SceneError, match="'data' must have shape"):
        tr.load_dict({"type": "envmap", "data": np.ones((4, 8))})
    with pytest.raises(tr.SceneError, match="finite and >= 0"):
        tr.load_dict({"type": "envmap", "data": -np.ones((2, 2, 3))})
    with pytest.raises(tr.SceneError, match="'scale' must be finite and >= 0"):
        tr.load_dict({"type": "envmap", "data": np.ones((2, 2, 3)), "scale": float("nan")})
