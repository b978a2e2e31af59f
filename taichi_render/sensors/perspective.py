"""Pinhole perspective camera (Mitsuba's ``perspective``).

======================  =========  ==============================================================
Parameter               Type       Description
======================  =========  ==============================================================
fov                     float      Field of view in degrees (full angle) along ``fov_axis``.
fov_axis                string     ``x`` (default), ``y``, ``diagonal``, ``smaller`` or
                                   ``larger`` (axis of the film the angle spans).
focal_length            string     Alternative to ``fov``: a 35 mm-equivalent focal length such
                                   as ``"50mm"`` (measured on the 36x24 mm diagonal). Default
                                   ``"50mm"`` when neither is given. Not together with ``fov``.
to_world                transform  Camera-to-world (rotation and translation; no scale). The
                                   camera looks along local +z, local +y is up and local +x
                                   points to the image's left. Default identity.
near_clip, far_clip     float      Clip distances along the ray, 0 < near < far.
                                   Defaults 0.01 and 10000.
principal_point_offset  float      Shift of the image center, in units of the crop window
_x / _y                            (added to the film position, as Mitsuba). Default 0.
focus_distance          float      Accepted for Mitsuba compatibility (no effect on a pinhole).
(nested)                film       Default ``hdrfilm`` (768 x 576, gaussian filter).
(nested)                sampler    Default ``independent`` (4 samples).
======================  =========  ==============================================================

Exposes ``fov`` (as given, or derived from ``focal_length`` on the diagonal), ``fov_axis`` (as
given, lower case), ``fov_x`` (degrees across the film's x axis, what the renderer uses),
``to_world`` (``np.ndarray (4, 4) float64``), ``near_clip``, ``far_clip``,
``principal_point_offset`` (``(x, y)``), ``film()`` and ``sampler()``, and the numpy reference
`sample_ray`.

Example::

    tr.load_dict({"type": "perspective", "fov": 39.3077, "fov_axis": "smaller",
                  "to_world": tr.ScalarTransform4f.look_at([0, 0, 3.9], [0, 0, 0], [0, 1, 0]),
                  "film": {"type": "hdrfilm", "width": 256, "height": 256}})
"""

from __future__ import annotations

import math

import numpy as np

from ..core.properties import Properties
from ..core.registry import Plugin, create, register

FOV_AXES = ("x", "y", "diagonal", "smaller", "larger")
_SCALE_TOLERANCE = 1e-3  # Mitsuba's has_scale() tolerance on the squared column norms


def fov_to_x(fov: float, axis: str, aspect: float) -> float:
    """Field of view (degrees) along ``axis`` -> degrees along the film's x axis (Mitsuba's
    ``parse_fov``; ``aspect = width / height``)."""
    if axis == "smaller":
        axis = "y" if aspect > 1 else "x"
    elif axis == "larger":
        axis = "x" if aspect > 1 else "y"
    half = math.tan(0.5 * math.radians(fov))
    if axis == "x":
        return fov
    if axis == "y":
        return math.degrees(2.0 * math.atan(half * aspect))
    width = 2.0 * half / math.sqrt(1.0 + 1.0 / (aspect * aspect))  # diagonal
    return math.degrees(2.0 * math.atan(0.5 * width))


def _child(props, kind: str, default_type: str):
    children = props.children(kind)
    if len(children) > 1:
        props.error(f"a sensor takes at most one {kind}", children[1][0])
    if children:
        return children[0][1]
    return create(kind, default_type, Properties(default_type, location=props.location, kind=kind))


def _read_positive(props, name: str, default: float) -> float:
    value = props.get_float(name, default)
    if not math.isfinite(value) or value <= 0.0:
        props.error(f"'{name}' must be a finite value > 0, got {value}", name)
    return value


@register("sensor", "perspective")
class PerspectiveCamera(Plugin):
    """Pinhole camera; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self._film = _child(props, "film", "hdrfilm")
        self._sampler = _child(props, "sampler", "independent")
        width, height = self._film.size()
        aspect = width / height

        if props.has("fov") and props.has("focal_length"):
            props.error("give either 'fov' or 'focal_length', not both", "focal_length")
        if props.has("fov"):
            self.fov = props.get_float("fov")
            if not math.isfinite(self.fov):
                props.error(f"'fov' must be finite, got {self.fov}", "fov")
            self.fov_axis = props.get_string("fov_axis", "x").lower()
            if self.fov_axis not in FOV_AXES:
                props.error(
                    f"invalid fov_axis {self.fov_axis!r}; expected one of {', '.join(FOV_AXES)}",
                    "fov_axis",
                )
            name = "fov"
        else:
            text = props.get_string("focal_length", "50mm")
            try:
                focal = float(text.removesuffix("mm"))
            except ValueError:
                focal = float("nan")
            if not focal > 0.0 or not math.isfinite(focal):
                props.error(
                    f"could not parse focal_length {text!r} (expected e.g. '50mm', > 0)",
                    "focal_length",
                )
            self.fov = math.degrees(2.0 * math.atan(math.hypot(36.0, 24.0) / (2.0 * focal)))
            self.fov_axis = "diagonal"
            name = "focal_length"
        self.fov_x = fov_to_x(self.fov, self.fov_axis, aspect)
        if not 0.0 < self.fov_x < 180.0:
            props.error(
                f"the horizontal field of view must be in (0, 180) degrees, got {self.fov_x}",
                name,
            )

        self.to_world = props.get_transform("to_world")
        linear = self.to_world[:3, :3]
        if not np.all(np.isfinite(self.to_world)):
            props.error("'to_world' must be finite", "to_world")
        if np.any(np.abs(np.sum(linear * linear, axis=0) - 1.0) > _SCALE_TOLERANCE):
            props.error("'to_world' must not contain scale factors", "to_world")

        self.near_clip = _read_positive(props, "near_clip", 0.01)
        self.far_clip = _read_positive(props, "far_clip", 10000.0)
        if self.near_clip >= self.far_clip:
            props.error(
                f"'near_clip' ({self.near_clip}) must be smaller than 'far_clip' ({self.far_clip})",
                "near_clip",
            )
        self.principal_point_offset = (
            props.get_float("principal_point_offset_x", 0.0),
            props.get_float("principal_point_offset_y", 0.0),
        )
        self.focus_distance = props.get_float("focus_distance", 0.0)

    def film(self):
        """The film plugin (``hdrfilm``)."""
        return self._film

    def sampler(self):
        """The sampler plugin (``independent``)."""
        return self._sampler

    def sample_ray(self, film_uv) -> tuple[np.ndarray, np.ndarray]:
        """Numpy reference of the camera ray for a film position (Mitsuba's ``sample_ray``).

        Args:
            film_uv: (2,) or (N, 2) position in [0, 1]^2 within the crop window: u to the right,
                v downward; pixel (i, j) center is ((i + 0.5) / crop_width, (j + 0.5) /
                crop_height).

        Returns:
            (origin, direction), float64, shapes (3,) or (N, 3). The direction is unit length;
            as in Mitsuba the origin is already advanced to the near clip plane
            (``o = eye + d * near_clip / cos``), and the ray ends at the far clip plane
            (``maxt = (far_clip - near_clip) / cos``, cos = d . camera forward).
        """
        uv = np.asarray(film_uv, dtype=np.float64)
        single = uv.ndim == 1
        uv = uv.reshape(-1, 2)
        width, height = self._film.size()
        cw, ch = self._film.crop_size()
        ox, oy = self._film.crop_offset
        # principal point shift (added to the crop-relative position, as Mitsuba), then
        # crop-relative -> whole-film position
        fx = (ox + (uv[:, 0] + self.principal_point_offset[0]) * cw) / width
        fy = (oy + (uv[:, 1] + self.principal_point_offset[1]) * ch) / height
        tan_x = math.tan(0.5 * math.radians(self.fov_x))
        aspect = width / height
        local = np.stack(
            [(1.0 - 2.0 * fx) * tan_x, (1.0 - 2.0 * fy) * tan_x / aspect, np.ones_like(fx)], 1
        )
        d_local = local / np.linalg.norm(local, axis=1, keepdims=True)
        near_t = self.near_clip / d_local[:, 2]
        d = d_local @ self.to_world[:3, :3].T
        o = self.to_world[:3, 3] + d * near_t[:, None]
        return (o[0], d[0]) if single else (o, d)
