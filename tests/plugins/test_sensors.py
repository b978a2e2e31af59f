"""Sensor, film, rfilter and sampler plugins; camera rays checked against Mitsuba 3.9.1."""

import math

import numpy as np
import pytest

import taichi_render as tr
from taichi_render.sensors.perspective import fov_to_x

T = tr.ScalarTransform4f

# From tests/reference/cbox/cbox_scene.md ("Camera / film"), computed by Mitsuba 3.9.1.
CBOX_TO_WORLD = [
    [-1.0, 0.0, 0.0, 0.0],
    [0.0, 0.9999999, 0.0, 0.0],
    [0.0, 0.0, -0.9999999, 3.9000001],
    [0.0, 0.0, 0.0, 1.0],
]
CBOX_RAYS = {
    (0.0, 0.0): (
        [-0.0003571433771867305, 0.00035714334808290005, 3.8990001678466797],
        [-0.3187887, 0.3187887, -0.892607],
    ),
    (1.0, 0.0): (
        [0.0003571433189790696, 0.00035714334808290005, 3.8990001678466797],
        [0.3187886, 0.3187887, -0.892607],
    ),
    (0.0, 1.0): (
        [-0.0003571433771867305, -0.00035714328987523913, 3.8990001678466797],
        [-0.3187887, -0.3187886, -0.892607],
    ),
    (0.5, 0.5): (
        [-2.980232380322967e-11, 2.980232033378272e-11, 3.8990001678466797],
        [-0.0, 0.0, -0.9999999],
    ),
    (0.5 / 256, 0.5 / 256): (
        [-0.00035574831417761743, 0.000355748285073787, 3.8990001678466797],
        [-0.3177954, 0.3177954, -0.8933153],
    ),
}


def cbox_sensor(**film):
    return tr.load_dict(
        {
            "type": "perspective",
            "fov_axis": "smaller",
            "near_clip": 0.001,
            "far_clip": 100.0,
            "focus_distance": 1000,
            "fov": 39.3077,
            "to_world": CBOX_TO_WORLD,
            "sampler": {"type": "independent", "sample_count": 64},
            "film": {
                "type": "hdrfilm",
                "width": 256,
                "height": 256,
                "rfilter": {"type": "box"},
                "pixel_format": "rgb",
                "component_format": "float32",
                **film,
            },
        }
    )


@pytest.mark.parametrize("uv", list(CBOX_RAYS))
def test_cbox_sample_ray_matches_mitsuba(uv):
    cam = cbox_sensor()
    o, d = cam.sample_ray(uv)
    o_ref, d_ref = CBOX_RAYS[uv]
    np.testing.assert_allclose(d, d_ref, atol=2e-7)
    np.testing.assert_allclose(o, o_ref, atol=2e-7)


def test_cbox_sensor_attributes():
    cam = cbox_sensor()
    assert cam.fov == 39.3077 and cam.fov_axis == "smaller" and cam.fov_x == 39.3077
    assert (cam.near_clip, cam.far_clip) == (0.001, 100.0)
    assert cam.film().crop_size() == (256, 256) and cam.film().rfilter.radius == 0.5
    assert cam.sampler().sample_count == 64
    o, d = cam.sample_ray(np.array([[0.5, 0.5], [0.0, 0.0]]))
    assert o.shape == (2, 3) and d.shape == (2, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)


def test_crop_window_rays_are_film_rays():
    full = cbox_sensor()
    crop = cbox_sensor(crop_offset_x=64, crop_offset_y=32, crop_width=128, crop_height=64)
    assert crop.film().crop_size() == (128, 64) and crop.film().size() == (256, 256)
    for u, v in [(0.0, 0.0), (0.3, 0.9), (1.0, 1.0)]:
        o1, d1 = crop.sample_ray([u, v])
        o2, d2 = full.sample_ray([(64 + u * 128) / 256, (32 + v * 64) / 256])
        np.testing.assert_allclose(d1, d2, atol=1e-12)
        np.testing.assert_allclose(o1, o2, atol=1e-12)


def _angle_deg(a, b):
    return math.degrees(math.acos(np.clip(np.dot(a, b), -1, 1)))


@pytest.mark.parametrize("axis", ["x", "y", "diagonal", "smaller", "larger"])
def test_fov_axis_spans_the_right_film_axis(axis):
    # film 200 x 100 (aspect 2): 'smaller' is y, 'larger' is x
    cam = tr.load_dict(
        {
            "type": "perspective",
            "fov": 30.0,
            "fov_axis": axis,
            "film": {"type": "hdrfilm", "width": 200, "height": 100},
        }
    )
    edge = {
        "x": (0.0, 0.5),
        "larger": (0.0, 0.5),
        "y": (0.5, 0.0),
        "smaller": (0.5, 0.0),
        "diagonal": (0.0, 0.0),
    }[axis]
    _, d_center = cam.sample_ray([0.5, 0.5])
    _, d_edge = cam.sample_ray(edge)
    assert _angle_deg(d_center, d_edge) == pytest.approx(15.0, abs=1e-9)
    assert cam.fov_x == pytest.approx(fov_to_x(30.0, axis, 2.0))


def test_camera_looks_along_plus_z_with_x_to_the_left():
    cam = tr.load_dict(
        {"type": "perspective", "fov": 90.0, "film": {"type": "hdrfilm", "width": 64, "height": 64}}
    )
    o, d = cam.sample_ray([0.5, 0.5])
    np.testing.assert_allclose(d, [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(o, [0, 0, 0.01])  # starts at the default near clip
    _, d_left = cam.sample_ray([0.0, 0.5])
    _, d_top = cam.sample_ray([0.5, 0.0])
    np.testing.assert_allclose(d_left, [math.sqrt(0.5), 0, math.sqrt(0.5)], atol=1e-12)
    np.testing.assert_allclose(d_top, [0, math.sqrt(0.5), math.sqrt(0.5)], atol=1e-12)


def test_look_at_camera():
    cam = tr.load_dict(
        {
            "type": "perspective",
            "fov": 45.0,
            "near_clip": 0.5,
            "to_world": T.look_at([0, 0, 5], [0, 0, 0], [0, 1, 0]),
        }
    )
    o, d = cam.sample_ray([0.5, 0.5])
    np.testing.assert_allclose(d, [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(o, [0, 0, 4.5], atol=1e-12)


def test_focal_length_and_defaults():
    cam = tr.load_dict({"type": "perspective"})
    diag = math.degrees(2 * math.atan(math.hypot(36, 24) / 100))  # "50mm"
    assert cam.fov == pytest.approx(diag) and cam.fov_axis == "diagonal"
    assert cam.fov_x == pytest.approx(fov_to_x(diag, "diagonal", 768 / 576))
    assert (cam.near_clip, cam.far_clip) == (0.01, 10000.0)
    assert cam.film().type_name == "hdrfilm" and cam.film().size() == (768, 576)
    assert cam.film().rfilter.type_name == "gaussian"
    assert cam.sampler().type_name == "independent" and cam.sampler().sample_count == 4
    np.testing.assert_array_equal(cam.to_world, np.eye(4))
    cam = tr.load_dict({"type": "perspective", "focal_length": "35mm"})
    assert cam.fov == pytest.approx(math.degrees(2 * math.atan(math.hypot(36, 24) / 70)))


@pytest.mark.parametrize(
    "d, what",
    [
        ({"fov": 40.0, "focal_length": "50mm"}, "either 'fov' or 'focal_length'"),
        ({"focal_length": "fifty"}, "could not parse focal_length 'fifty'"),
        ({"focal_length": "-5mm"}, "could not parse focal_length"),
        ({"fov": 180.0}, r"field of view must be in \(0, 180\)"),
        ({"fov": 0.0}, r"field of view must be in \(0, 180\)"),
        ({"fov": 40.0, "fov_axis": "z"}, "invalid fov_axis 'z'"),
        ({"near_clip": 0.0}, "'near_clip' must be a finite value > 0"),
        ({"near_clip": 10.0, "far_clip": 1.0}, "'near_clip' .* must be smaller than 'far_clip'"),
        ({"to_world": T.scale(2.0)}, "'to_world' must not contain scale"),
        ({"fov": "wide"}, "'fov' expects a float"),
        ({"film": {"type": "hdrfilm"}, "film2": {"type": "hdrfilm"}}, "at most one film"),
        ({"aperture_radius": 0.1}, "unused property 'aperture_radius'"),
    ],
)
def test_perspective_errors(d, what):
    with pytest.raises(tr.SceneError, match=what):
        tr.load_dict({"type": "perspective", **d})


# ---- film ----
def test_hdrfilm_defaults_and_crop():
    f = tr.load_dict({"type": "hdrfilm"})
    assert f.size() == (768, 576) and f.crop_size() == (768, 576) and f.crop_offset == (0, 0)
    assert (f.file_format, f.pixel_format, f.component_format) == ("openexr", "rgb", "float16")
    assert f.rfilter.type_name == "gaussian" and f.rfilter.stddev == 0.5
    f = tr.load_dict(
        {
            "type": "hdrfilm",
            "width": 100,
            "height": 50,
            "crop_offset_x": 10,
            "crop_offset_y": 5,
            "crop_width": 20,
            "crop_height": 30,
            "pixel_format": "RGBA",
            "rfilter": {"type": "box"},
        }
    )
    assert f.crop_size() == (20, 30) and f.crop_offset == (10, 5) and f.pixel_format == "rgba"
    assert f.rfilter.type_name == "box"
    g = tr.load_dict({"type": "hdrfilm", "width": 100, "height": 50, "crop_offset_x": 60})
    assert g.crop_size() == (40, 50)


@pytest.mark.parametrize(
    "d, what",
    [
        ({"width": 0}, "'width' must be >= 1"),
        ({"height": -3}, "'height' must be >= 1"),
        ({"width": 10, "crop_width": 11}, "invalid crop window"),
        ({"height": 10, "crop_offset_y": 5, "crop_height": 6}, "invalid crop window"),
        ({"crop_offset_x": -1}, "'crop_offset_x' must be >= 0"),
        ({"pixel_format": "cmyk"}, "invalid pixel_format 'cmyk'"),
        ({"component_format": "int8"}, "invalid component_format"),
        ({"file_format": "png"}, "invalid file_format"),
        ({"width": 2.5}, "'width' expects an integer"),
        ({"a": {"type": "box"}, "b": {"type": "box"}}, "at most one rfilter"),
    ],
)
def test_hdrfilm_errors(d, what):
    with pytest.raises(tr.SceneError, match=what):
        tr.load_dict({"type": "hdrfilm", **d})


# ---- rfilters and sampler ----
def test_rfilters():
    box = tr.load_dict({"type": "box"})
    assert box.radius == 0.5 and box.eval(0.49) == 1.0 and box.eval(0.5) == 0.0
    with pytest.raises(tr.SceneError, match="unused property 'radius'"):
        tr.load_dict({"type": "box", "radius": 1.0})
    g = tr.load_dict({"type": "gaussian"})
    assert g.stddev == 0.5 and g.radius == 2.0
    assert g.eval(0.0) > g.eval(0.5) > g.eval(1.0) > 0.0 and g.eval(2.0) == 0.0
    g = tr.load_dict({"type": "gaussian", "stddev": 0.25})
    assert g.radius == 1.0
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(tr.SceneError, match="'stddev' must be a finite value > 0"):
            tr.load_dict({"type": "gaussian", "stddev": bad})


def test_independent_sampler():
    s = tr.load_dict({"type": "independent"})
    assert (s.sample_count, s.seed) == (4, 0)
    s = tr.load_dict({"type": "independent", "sample_count": 64, "seed": 7})
    assert (s.sample_count, s.seed) == (64, 7)
    with pytest.raises(tr.SceneError, match="'sample_count' must be > 0"):
        tr.load_dict({"type": "independent", "sample_count": 0})
    with pytest.raises(tr.SceneError, match="'seed' must be >= 0"):
        tr.load_dict({"type": "independent", "seed": -1})
    with pytest.raises(tr.SceneError, match="'sample_count' expects an integer"):
        tr.load_dict({"type": "independent", "sample_count": 4.0})
