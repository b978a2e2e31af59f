import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taichi_render.core.transform import ScalarTransform4f as T

# Sensor to_world of the reference Cornell box (cbox_scene.md, Mitsuba float32 output).
CBOX_SENSOR = [
    [-1.0, 0.0, 0.0, 0.0],
    [0.0, 0.9999999, 0.0, 0.0],
    [0.0, 0.0, -0.9999999, 3.9000001],
    [0.0, 0.0, 0.0, 1.0],
]


def test_identity_and_construction():
    assert np.array_equal(T().matrix, np.eye(4))
    m = np.arange(16.0).reshape(4, 4)
    assert np.array_equal(T(m.tolist()).matrix, m)
    assert np.array_equal(T(T(m)).matrix, m)
    assert T(m).matrix.dtype == np.float64
    # 3x3 goes into the upper-left block
    t3 = T(np.diag([2.0, 3.0, 4.0]))
    assert np.array_equal(t3.matrix, np.diag([2.0, 3.0, 4.0, 1.0]))
    assert np.array_equal(np.asarray(T(m)), m)


@pytest.mark.parametrize(
    "bad", [np.zeros((3, 4)), [[1, 2], [3, 4]], "abc", np.full((4, 4), np.nan)]
)
def test_bad_construction(bad):
    with pytest.raises(ValueError):
        T(bad)


def test_look_at_matches_cbox_sensor():
    m = T.look_at(origin=[0, 0, 3.9], target=[0, 0, 0], up=[0, 1, 0]).matrix
    np.testing.assert_allclose(m, CBOX_SENSOR, atol=2e-7)


def test_look_at_columns():
    o, t, up = np.array([1.0, 2, 3]), np.array([4.0, -1, 0.5]), np.array([0.0, 0, 1])
    m = T.look_at(o, t, up).matrix
    d = (t - o) / np.linalg.norm(t - o)
    left = np.cross(up, d)
    left /= np.linalg.norm(left)
    np.testing.assert_allclose(m[:3, 2], d)
    np.testing.assert_allclose(m[:3, 0], left)
    np.testing.assert_allclose(m[:3, 1], np.cross(d, left))
    np.testing.assert_allclose(m[:3, 3], o)
    # the camera's local +z axis points at the target
    np.testing.assert_allclose(T(m).transform_vector([0, 0, 1]), d)


def test_look_at_degenerate():
    with pytest.raises(ValueError):
        T.look_at([0, 0, 0], [0, 0, 0], [0, 1, 0])
    with pytest.raises(ValueError):
        T.look_at([0, 0, 0], [0, 1, 0], [0, 1, 0])


def test_translate_scale_rotate():
    np.testing.assert_allclose(T.translate([1, 2, 3]).transform_point([0, 0, 0]), [1, 2, 3])
    np.testing.assert_allclose(T.scale(2.0).transform_point([1, 2, 3]), [2, 4, 6])
    np.testing.assert_allclose(T.scale([1, 2, 3]).transform_point([1, 1, 1]), [1, 2, 3])
    # right-handed: +90 deg about z maps x to y
    np.testing.assert_allclose(
        T.rotate([0, 0, 1], 90).transform_vector([1, 0, 0]), [0, 1, 0], atol=1e-15
    )
    # the axis need not be normalized
    np.testing.assert_allclose(T.rotate([0, 0, 5], 90).matrix, T.rotate([0, 0, 1], 90).matrix)
    with pytest.raises(ValueError):
        T.rotate([0, 0, 0], 10)


def test_cbox_recipes():
    """The to_world recipes of cbox_scene.md reproduce its matrices."""
    light = T.translate([0, 0.99, 0.01]) @ T.rotate([1, 0, 0], 90) @ T.scale([0.23, 0.19, 0.19])
    np.testing.assert_allclose(
        light.matrix,
        [[0.23, 0, 0, 0], [0, 0, -0.19, 0.99], [0, 0.19, 0, 0.01], [0, 0, 0, 1]],
        atol=1e-7,
    )
    small = T.translate([0.335, -0.7, 0.38]) @ T.rotate([0, 1, 0], -17) @ T.scale(0.3)
    np.testing.assert_allclose(
        small.matrix,
        [
            [0.2868915, 0, -0.0877115, 0.335],
            [0, 0.3, 0, -0.7],
            [0.0877115, 0, 0.2868915, 0.38],
            [0, 0, 0, 1],
        ],
        atol=1e-7,
    )


def test_instance_methods_chain_like_mitsuba_3_6():
    """``A.op(x) == A @ op(x)``: T.translate(t).scale(s) scales first, then translates."""
    t, s = [1.0, 2.0, 3.0], 2.0
    chained = T().translate(t).scale(s)
    np.testing.assert_allclose(chained.matrix, (T.translate(t) @ T.scale(s)).matrix)
    np.testing.assert_allclose(chained.transform_point([1, 1, 1]), [3, 4, 5])
    a = T.rotate([0, 1, 0], 30)
    np.testing.assert_allclose(
        a.look_at([0, 0, 1], [0, 0, 0], [0, 1, 0]).matrix,
        (a @ T.look_at([0, 0, 1], [0, 0, 0], [0, 1, 0])).matrix,
    )
    np.testing.assert_allclose(
        a.rotate([1, 0, 0], 10).matrix, a.matrix @ T.rotate([1, 0, 0], 10).matrix
    )
    # the instance itself is unchanged
    assert np.array_equal(T().translate(t).matrix, T.translate(t).matrix)


def test_composition_and_inverse():
    a = T.translate([1, 0, 0]) @ T.rotate([0, 0, 1], 90)
    # rotate first, then translate
    np.testing.assert_allclose(a.transform_point([1, 0, 0]), [1, 1, 0], atol=1e-15)
    np.testing.assert_allclose((a @ a.inverse()).matrix, np.eye(4), atol=1e-14)
    assert a == T(a.matrix)
    assert a != T()


def test_point_vector_normal_shapes():
    a = T.translate([1, 2, 3]) @ T.scale([2, 1, 1])
    pts = np.array([[0, 0, 0], [1, 1, 1]], float)
    out = a.transform_point(pts)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, [[1, 2, 3], [3, 3, 4]])
    np.testing.assert_allclose(a.transform_affine(pts), out)
    np.testing.assert_allclose(a.transform_vector([1, 1, 1]), [2, 1, 1])
    # a normal stays perpendicular to a transformed tangent
    n = a.transform_normal([1, 1, 0])
    tangent = a.transform_vector([1, -1, 0])
    assert abs(np.dot(n, tangent)) < 1e-12
    with pytest.raises(ValueError):
        a.transform_point(np.zeros((2, 4)))


def test_projective_point():
    m = np.eye(4)
    m[3, 3] = 2.0
    np.testing.assert_allclose(T(m).transform_point([2, 4, 6]), [1, 2, 3])
    np.testing.assert_allclose(T(m).transform_affine([2, 4, 6]), [2, 4, 6])


@settings(max_examples=50, deadline=None)
@given(
    axis=st.tuples(*[st.floats(-1, 1) for _ in range(3)]).filter(
        lambda v: np.linalg.norm(v) > 1e-3
    ),
    angle=st.floats(-360, 360),
)
def test_rotation_is_orthonormal(axis, angle):
    r = T.rotate(axis, angle).matrix[:3, :3]
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert math.isclose(np.linalg.det(r), 1.0, abs_tol=1e-12)
    # the axis is fixed
    a = np.array(axis) / np.linalg.norm(axis)
    np.testing.assert_allclose(r @ a, a, atol=1e-12)
