"""`Scene`: the host-side scene, built by the loaders from the scene-level `Properties`.

It holds the plugins (numpy data only); the renderer packs them into Taichi arrays once and keeps
the result in the scene's ``render_state`` (``render/state.py``). As in Mitsuba 3:

- shapes, sensors and non-area emitters are taken in declaration order; area emitters belong to
  their shape and are listed by `Scene.emitters` at the shape's position;
- bsdfs, textures and other plugins declared at scene level are only there to be referenced;
- a scene without a sensor gets a ``perspective`` sensor (fov 45 degrees, default film) placed
  in front of the scene's bounding box, looking along +z; one without an integrator gets ``path``;
- at most one integrator and one environment emitter (``constant``/``envmap``);
- anything that is not a plugin at scene level (e.g. a float) is an error.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import SceneError
from ..core.properties import Properties
from ..core.registry import create

ENVIRONMENT_TYPES = frozenset({"constant", "envmap"})


class Scene:
    """A loaded scene. See the module docstring.

    Attributes: `ids` (``dict[str, plugin]``: every plugin with an id), `id`, `props_location`.
    """

    kind = "scene"
    type_name = "scene"

    def __init__(self, props: Properties, ids: dict | None = None):
        self.id = props.id
        self.props_location = props.location
        self._shapes: list = []
        self._emitters: list = []
        self._sensors: list = []
        self._integrator = None
        self._environment = None

        children = props.children()
        for name, child in children:
            if child.kind == "shape":
                self._shapes.append(child)
                emitter = getattr(child, "emitter", None)
                if emitter is not None:
                    self._emitters.append(emitter)
            elif child.kind == "emitter":
                if child.type_name == "area":
                    props.error("an 'area' emitter must be attached to a shape", name)
                if _is_environment(child):
                    if self._environment is not None:
                        props.error("only one environment emitter can be specified", name)
                    self._environment = child
                self._emitters.append(child)
            elif child.kind == "sensor":
                self._sensors.append(child)
            elif child.kind == "integrator":
                if self._integrator is not None:
                    props.error("only one integrator can be specified per scene", name)
                self._integrator = child
        for name in props.unused():
            e = props.entry(name)
            raise SceneError(
                f"scene at {e.location}: unexpected {e.tag} property '{name}' at scene level "
                "(only plugins such as shapes, emitters, sensors, bsdfs may appear there)"
            )

        if ids is None:
            ids = {c.id: c for _, c in children if getattr(c, "id", None)}
        self.ids: dict = dict(ids)

        if not self._sensors:
            self._sensors.append(self._default_sensor())
        if self._integrator is None:
            self._integrator = create(
                "integrator",
                "path",
                Properties("path", location=self._default_loc, kind="integrator"),
            )
        # the renderer's state of this scene (render/state.py: packed arrays, wanted gradients),
        # made by its first render
        self.render_state = None

    # ---- Accessors ----
    def shapes(self) -> list:
        """Shapes, in declaration order."""
        return list(self._shapes)

    def emitters(self) -> list:
        """All emitters (area emitters at their shape's position), in declaration order."""
        return list(self._emitters)

    def environment(self):
        """The environment emitter (``constant`` or ``envmap``), or None."""
        return self._environment

    def sensors(self) -> list:
        return list(self._sensors)

    def integrator(self):
        return self._integrator

    def bbox(self) -> tuple[np.ndarray, np.ndarray]:
        """World-space bounding box of the shapes: (min (3,), max (3,)) float64.

        Empty scene: min = +inf, max = -inf (an invalid box, as in Mitsuba).
        """
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        for shape in self._shapes:
            box = shape_bbox(shape)
            if box is not None:
                lo = np.minimum(lo, box[0])
                hi = np.maximum(hi, box[1])
        return lo, hi

    def __repr__(self) -> str:
        return (
            f"Scene(shapes={len(self._shapes)}, emitters={len(self._emitters)}, "
            f"sensors={len(self._sensors)}, integrator={self._integrator!r})"
        )

    # ---- Defaults ----
    @property
    def _default_loc(self) -> str:
        return f"default of the scene at {self.props_location}"

    def _default_sensor(self):
        """Mitsuba's fallback camera: fov 45, far enough back along -z to see the whole bbox."""
        props = Properties("perspective", location=self._default_loc, kind="sensor")
        props.set("fov", 45.0)
        lo, hi = self.bbox()
        if np.all(lo <= hi):
            center = 0.5 * (lo + hi)
            extents = hi - lo
            distance = extents.max() / (2.0 * math.tan(math.radians(0.5 * 45.0)))
            props.set("far_clip", float(extents.max() * 5 + distance))
            props.set("near_clip", float(distance / 100))
            props.set("focus_distance", float(distance + extents[2] / 2))
            to_world = np.eye(4)
            to_world[:3, 3] = [center[0], center[1], lo[2] - distance]
            props.set("to_world", to_world, tag="transform")
        return create("sensor", "perspective", props)


def _is_environment(emitter) -> bool:
    """An ``is_environment`` attribute/method if the plugin has one, else its type name."""
    flag = getattr(emitter, "is_environment", None)
    if flag is None:
        return emitter.type_name in ENVIRONMENT_TYPES
    return bool(flag() if callable(flag) else flag)


def shape_bbox(shape):
    """(min (3,), max (3,)) float64 of a host shape, or None if it has no geometry.

    Uses, in order: a ``bbox()`` method, ``vertex_positions`` (N, 3), ``center`` + ``radius``
    (sphere), ``to_world`` applied to the local square [-1, 1]^2 x {0} (disk).
    """
    method = getattr(shape, "bbox", None)
    if callable(method):
        lo, hi = method()
        return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    verts = getattr(shape, "vertex_positions", None)
    if verts is not None:
        v = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
        return (v.min(axis=0), v.max(axis=0)) if len(v) else None
    center = getattr(shape, "center", None)
    radius = getattr(shape, "radius", None)
    if center is not None and radius is not None:
        c = np.asarray(center, dtype=np.float64).reshape(3)
        r = abs(float(radius))
        return c - r, c + r
    to_world = getattr(shape, "to_world", None)
    if to_world is not None:
        m = np.asarray(getattr(to_world, "matrix", to_world), dtype=np.float64)
        corners = np.array([[x, y, 0.0, 1.0] for x in (-1, 1) for y in (-1, 1)]) @ m.T
        p = corners[:, :3] / corners[:, 3:]
        return p.min(axis=0), p.max(axis=0)
    return None
