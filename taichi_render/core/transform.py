"""`ScalarTransform4f`: a 4x4 affine/projective transform on the host (float64), as in Mitsuba 3.

The builders work on the class and on an instance. On the class they return the elementary
transform; on an instance ``A`` they return ``A @ op`` (Mitsuba 3.6+), so a chain reads from left
to right and applies from right to left::

    T = ScalarTransform4f().translate([0, 1, 0]).scale(2.0)   # scale first, then translate
    T = ScalarTransform4f.translate([0, 1, 0]) @ ScalarTransform4f.scale(2.0)   # the same
    cam = ScalarTransform4f.look_at(origin=[0, 0, 3.9], target=[0, 0, 0], up=[0, 1, 0])

Point/vector helpers take arrays of shape (3,) or (N, 3) and return float64 arrays of the same
shape.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def _vec3(v, what: str) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(3, float(arr))
    if arr.shape != (3,):
        raise ValueError(f"{what} expects a 3-vector, got shape {arr.shape}")
    return arr


def _translate_matrix(v) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = _vec3(v, "translate")
    return m


def _scale_matrix(v) -> np.ndarray:
    return np.diag(np.append(_vec3(v, "scale"), 1.0))


def _rotate_matrix(axis, angle) -> np.ndarray:
    """Rotation by ``angle`` degrees around ``axis`` (normalized here), right-handed (Rodrigues)."""
    a = _vec3(axis, "rotate axis")
    n = np.linalg.norm(a)
    if n == 0:
        raise ValueError("rotate: the axis must be non-zero")
    x, y, z = a / n
    theta = math.radians(float(angle))
    s, c = math.sin(theta), math.cos(theta)
    t = 1.0 - c
    m = np.eye(4)
    m[:3, :3] = [
        [x * x * t + c, x * y * t - z * s, x * z * t + y * s],
        [x * y * t + z * s, y * y * t + c, y * z * t - x * s],
        [x * z * t - y * s, y * z * t + x * s, z * z * t + c],
    ]
    return m


def _look_at_matrix(origin, target, up) -> np.ndarray:
    """Camera-to-world matrix: local +z looks from ``origin`` at ``target``, local +y ~ ``up``.

    Columns are (left, new_up, dir, origin) with dir = normalize(target - origin),
    left = normalize(cross(up, dir)), new_up = cross(dir, left), as in Mitsuba's look_at.
    """
    origin = _vec3(origin, "look_at origin")
    d = _vec3(target, "look_at target") - origin
    dn = np.linalg.norm(d)
    left = np.cross(_vec3(up, "look_at up"), d / dn if dn > 0 else d)
    ln = np.linalg.norm(left)
    if dn == 0 or ln == 0:
        raise ValueError("look_at: origin equals target, or up is parallel to the view direction")
    d = d / dn
    left = left / ln
    new_up = np.cross(d, left)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = left, new_up, d, origin
    return m


class _TransformBuilder:
    """Descriptor: ``Cls.op(...)`` builds the op; ``inst.op(...)`` returns ``inst @ op(...)``."""

    def __init__(self, builder):
        self.builder = builder
        functools.update_wrapper(self, builder)

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner):
        builder = self.builder

        if obj is None:

            @functools.wraps(builder)
            def make(*args, **kwargs):
                return owner(builder(*args, **kwargs))

            return make

        @functools.wraps(builder)
        def chain(*args, **kwargs):
            return obj @ type(obj)(builder(*args, **kwargs))

        return chain


class ScalarTransform4f:
    """A 4x4 transform stored as a float64 numpy matrix (`matrix`, row-major, column vectors).

    Construct with no argument (identity), a 4x4 nested list / numpy array, or another
    `ScalarTransform4f`. Compose with ``@`` (``(A @ B).transform_point(p) == A(B(p))``).
    """

    __slots__ = ("matrix",)

    def __init__(self, matrix=None):
        if matrix is None:
            m = np.eye(4)
        elif isinstance(matrix, ScalarTransform4f):
            m = matrix.matrix.copy()
        else:
            try:
                m = np.array(matrix, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"ScalarTransform4f expects a 4x4 matrix: {exc}") from None
            if m.shape == (3, 3):  # Mitsuba stores a 3x3 matrix in the upper-left block
                m3, m = m, np.eye(4)
                m[:3, :3] = m3
            if m.shape != (4, 4):
                raise ValueError(f"ScalarTransform4f expects a 4x4 matrix, got shape {m.shape}")
        if not np.all(np.isfinite(m)):
            raise ValueError("ScalarTransform4f: the matrix has non-finite entries")
        self.matrix = m

    # ---- Builders (class or instance; see _TransformBuilder) ----
    translate = _TransformBuilder(_translate_matrix)
    scale = _TransformBuilder(_scale_matrix)
    rotate = _TransformBuilder(_rotate_matrix)
    look_at = _TransformBuilder(_look_at_matrix)

    # ---- Algebra ----
    def __matmul__(self, other):
        if isinstance(other, ScalarTransform4f):
            return ScalarTransform4f(self.matrix @ other.matrix)
        return NotImplemented

    def inverse(self) -> ScalarTransform4f:
        return ScalarTransform4f(np.linalg.inv(self.matrix))

    @property
    def inverse_transpose(self) -> np.ndarray:
        """(4, 4) float64: inverse transpose, used to transform normals."""
        return np.linalg.inv(self.matrix).T

    def __eq__(self, other):
        if isinstance(other, ScalarTransform4f):
            return bool(np.array_equal(self.matrix, other.matrix))
        return NotImplemented

    __hash__ = None

    def __array__(self, dtype=None, copy=None):
        return self.matrix.astype(dtype) if dtype is not None else self.matrix.copy()

    def __repr__(self) -> str:
        prefix = "ScalarTransform4f("
        return prefix + np.array2string(self.matrix, separator=", ", prefix=prefix) + ")"

    # ---- Applying the transform ----
    def transform_point(self, p) -> np.ndarray:
        """Points (3,) or (N, 3) -> same shape, with the projective division."""
        p, single = _as_points(p)
        h = p @ self.matrix[:3, :3].T + self.matrix[:3, 3]
        w = p @ self.matrix[3, :3] + self.matrix[3, 3]
        out = h / w[:, None]
        return out[0] if single else out

    def transform_affine(self, p) -> np.ndarray:
        """Points (3,) or (N, 3) -> same shape, ignoring the last row (affine part only)."""
        p, single = _as_points(p)
        out = p @ self.matrix[:3, :3].T + self.matrix[:3, 3]
        return out[0] if single else out

    def transform_vector(self, v) -> np.ndarray:
        """Directions (3,) or (N, 3) -> same shape (no translation)."""
        v, single = _as_points(v)
        out = v @ self.matrix[:3, :3].T
        return out[0] if single else out

    def transform_normal(self, n) -> np.ndarray:
        """Normals (3,) or (N, 3) -> same shape (inverse transpose; not renormalized)."""
        n, single = _as_points(n)
        out = n @ np.linalg.inv(self.matrix)[:3, :3]
        return out[0] if single else out


def _as_points(p):
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape == (3,):
        return arr[None, :], True
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"expected an array of shape (3,) or (N, 3), got {arr.shape}")
    return arr, False
