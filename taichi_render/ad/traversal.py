"""`traverse(scene)`: walk the scene graph and list its parameters under Mitsuba 3's key names
(see `params.py` for the naming rule and the `SceneParameters` mapping it returns)."""

from __future__ import annotations

import numpy as np

from ..scene.scene import Scene
from ..shapes.vertex_normals import smooth_vertex_normals
from .params import (  # noqa: F401
    _UPDATE_BITMAP,
    _UPDATE_HOST,
    _UPDATE_REPACK,
    _UPDATE_RGB,
    SceneParameters,
    _Param,
)

#: Mitsuba 3 class names, used to name top-level plugins that have no id (as Mitsuba's
#: ``Scene::traverse`` does); unknown types fall back to their type name.
MITSUBA_CLASS_NAMES = {
    ("shape", "obj"): "OBJMesh",
    ("shape", "ply"): "PLYMesh",
    ("shape", "rectangle"): "Rectangle",
    ("shape", "cube"): "Cube",
    ("shape", "sphere"): "Sphere",
    ("shape", "disk"): "Disk",
    ("bsdf", "diffuse"): "SmoothDiffuse",
    ("bsdf", "twosided"): "TwoSidedBRDF",
    ("bsdf", "dielectric"): "SmoothDielectric",
    ("bsdf", "thindielectric"): "ThinDielectric",
    ("bsdf", "conductor"): "SmoothConductor",
    ("bsdf", "roughconductor"): "RoughConductor",
    ("bsdf", "plastic"): "SmoothPlastic",
    ("bsdf", "roughplastic"): "RoughPlastic",
    ("bsdf", "roughdielectric"): "RoughDielectric",
    ("texture", "rgb"): "RGBReflectanceSpectrum",
    ("texture", "bitmap"): "BitmapTexture",
    ("texture", "checkerboard"): "Checkerboard",
    ("emitter", "area"): "AreaLight",
    ("emitter", "point"): "PointLight",
    ("emitter", "constant"): "ConstantBackgroundEmitter",
    ("emitter", "envmap"): "EnvironmentMapEmitter",
    ("sensor", "perspective"): "PerspectiveCamera",
    ("sensor", "batch"): "BatchSensor",
    ("integrator", "path"): "PathIntegrator",
    ("integrator", "prb"): "PRBIntegrator",
    ("integrator", "direct"): "DirectIntegrator",
}

_SCALE_TOLERANCE = 1e-3  # as sensors/perspective.py: Mitsuba's has_scale() tolerance


def _positive(a: np.ndarray):
    return None if np.all(a > 0) else "must be > 0"


def _nonnegative(a: np.ndarray):
    return None if np.all(a >= 0) else "must be >= 0"


# ---------------------------------------------------------------------------------------------
# traversal


def _class_name(plugin) -> str:
    kind, type_name = getattr(plugin, "kind", None), getattr(plugin, "type_name", None)
    return MITSUBA_CLASS_NAMES.get((kind, type_name), str(type_name or type(plugin).__name__))


class _Traversal:
    def __init__(self, scene):
        self.params: dict[str, _Param] = {}
        self.visited: set[int] = set()
        self.prefixes: set[str] = set()
        self.named: set[int] = set()  # plugins named by their id (roots)

    def unique(self, name: str) -> str:
        """Mitsuba's rule: ``name``, else ``name_1``, ``name_2``, ..."""
        base, n = name, 1
        while name in self.prefixes:
            name = f"{base}_{n}"
            n += 1
        self.prefixes.add(name)
        return name

    def visit(self, node, name: str) -> None:
        if node is None or id(node) in self.visited:
            return
        self.visited.add(id(node))
        name = self.unique(name)
        kind = getattr(node, "kind", None)
        handler = _HANDLERS.get(kind)
        children = handler(self, node, name) if handler is not None else []
        for prop, child in children:
            if child is None or id(child) in self.named:
                continue  # children with an id are roots, named by their id
            self.visit(child, f"{name}.{prop}")

    def add(self, name: str, prop: str, node, get, set, **kw) -> None:
        key = f"{name}.{prop}"
        self.params[key] = _Param(key=key, node=node, get=get, set=set, **kw)


def _float1(getter):
    return lambda: np.array([getter()], dtype=np.float32)


# ---- textures ----
def _texture(t: _Traversal, tex, name: str):
    kind = tex.type_name
    if kind == "rgb" or (kind not in ("bitmap", "checkerboard") and hasattr(tex, "value")):

        def set_value(v, tex=tex):
            tex.value = v.astype(np.float32)

        t.add(
            name,
            "value",
            tex,
            lambda: np.broadcast_to(np.asarray(tex.value, np.float32), (3,)),
            set_value,
            differentiable=True,
            refresh=_UPDATE_RGB,
        )
        return []
    if kind == "bitmap":

        def set_data(v, tex=tex):
            tex.data = np.ascontiguousarray(v, dtype=np.float32)

        t.add(
            name,
            "data",
            tex,
            lambda: np.asarray(tex.data, np.float32),
            set_data,
            differentiable=True,
            resizable=True,
            refresh=_UPDATE_BITMAP,
        )
        return []
    if kind == "checkerboard":
        return [("color0", tex.color0), ("color1", tex.color1)]
    return []


# ---- bsdfs ----
def _ior_params(t: _Traversal, bsdf, name: str) -> None:
    def set_ior(attr):
        def setter(v):
            setattr(bsdf, attr, float(v[0]))
            bsdf.eta = bsdf.int_ior / bsdf.ext_ior

        return setter

    def set_eta(v):
        bsdf.int_ior = float(v[0]) * float(bsdf.ext_ior)
        bsdf.eta = float(v[0])

    t.add(
        name,
        "eta",
        bsdf,
        _float1(lambda: float(bsdf.int_ior) / float(bsdf.ext_ior)),
        set_eta,
        check=_positive,
        order=1,
    )
    t.add(name, "int_ior", bsdf, _float1(lambda: bsdf.int_ior), set_ior("int_ior"), check=_positive)
    t.add(name, "ext_ior", bsdf, _float1(lambda: bsdf.ext_ior), set_ior("ext_ior"), check=_positive)


def _conductor_params(t: _Traversal, bsdf, name: str) -> None:
    def set_color(attr):
        def setter(v):
            setattr(bsdf, attr, v.astype(np.float32))
            bsdf.perfect_mirror = bool(np.all(bsdf.eta == 0.0) and np.all(bsdf.k == 1.0))

        return setter

    for attr in ("eta", "k"):
        t.add(
            name,
            f"{attr}.value",
            bsdf,
            lambda attr=attr: np.broadcast_to(np.asarray(getattr(bsdf, attr), np.float32), (3,)),
            set_color(attr),
            check=_nonnegative,
        )


def _roughness_params(t: _Traversal, bsdf, name: str) -> None:
    if float(bsdf.alpha_u) == float(bsdf.alpha_v):

        def set_alpha(v):
            bsdf.alpha_u = bsdf.alpha_v = float(v[0])

        t.add(name, "alpha.value", bsdf, _float1(lambda: bsdf.alpha_u), set_alpha, check=_positive)
        return
    for attr in ("alpha_u", "alpha_v"):
        t.add(
            name,
            f"{attr}.value",
            bsdf,
            _float1(lambda attr=attr: getattr(bsdf, attr)),
            lambda v, attr=attr: setattr(bsdf, attr, float(v[0])),
            check=_positive,
        )


def _bsdf(t: _Traversal, bsdf, name: str):
    kind = bsdf.type_name
    if kind == "diffuse":
        return [("reflectance", bsdf.reflectance)]
    if kind == "twosided":
        return [("brdf_0", bsdf.brdf[0]), ("brdf_1", bsdf.brdf[1])]
    if kind in ("dielectric", "thindielectric", "roughdielectric"):
        _ior_params(t, bsdf, name)
        if kind == "roughdielectric":
            _roughness_params(t, bsdf, name)
        return [
            ("specular_reflectance", bsdf.specular_reflectance),
            ("specular_transmittance", bsdf.specular_transmittance),
        ]
    if kind in ("plastic", "roughplastic"):
        _ior_params(t, bsdf, name)
        if kind == "roughplastic":

            def set_alpha(v):
                bsdf.alpha = bsdf.alpha_u = bsdf.alpha_v = float(v[0])

            t.add(name, "alpha", bsdf, _float1(lambda: bsdf.alpha), set_alpha, check=_positive)
        return [
            ("diffuse_reflectance", bsdf.diffuse_reflectance),
            ("specular_reflectance", bsdf.specular_reflectance),
        ]
    if kind in ("conductor", "roughconductor"):
        _conductor_params(t, bsdf, name)
        if kind == "roughconductor":
            _roughness_params(t, bsdf, name)
        return [("specular_reflectance", bsdf.specular_reflectance)]
    return []


# ---- shapes ----
def _shape(t: _Traversal, shape, name: str):
    positions = getattr(shape, "vertex_positions", None)
    if positions is not None and getattr(shape, "faces", None) is not None:

        def flat(attr, width):
            return lambda: np.asarray(getattr(shape, attr), np.float32).reshape(-1)

        def set_rows(attr, width):
            def setter(v):
                setattr(shape, attr, np.ascontiguousarray(v.reshape(-1, width), dtype=np.float32))

            return setter

        def check_faces(v):
            n = len(np.asarray(shape.vertex_positions).reshape(-1, 3))
            return None if np.all((v >= 0) & (v < n)) else f"vertex indices must be in [0, {n})"

        def set_faces(v):
            shape.faces = np.ascontiguousarray(v.reshape(-1, 3), dtype=np.int32)

        t.add(
            name,
            "faces",
            shape,
            lambda: np.asarray(shape.faces, np.int32).reshape(-1),
            set_faces,
            dtype=np.int32,
            flat=True,
            check=check_faces,
        )
        def set_positions(v):
            set_rows("vertex_positions", 3)(v)
            if getattr(shape, "vertex_normals", None) is not None:
                # Mitsuba's Mesh::parameters_changed: vertex normals follow the positions
                shape.vertex_normals = smooth_vertex_normals(shape.vertex_positions, shape.faces).astype(np.float32)

        t.add(
            name,
            "vertex_positions",
            shape,
            flat("vertex_positions", 3),
            set_positions,
            differentiable=True,
            flat=True,
        )
        if getattr(shape, "vertex_normals", None) is not None:
            t.add(
                name,
                "vertex_normals",
                shape,
                flat("vertex_normals", 3),
                set_rows("vertex_normals", 3),
                flat=True,
            )
        if getattr(shape, "vertex_texcoords", None) is not None:
            t.add(
                name,
                "vertex_texcoords",
                shape,
                flat("vertex_texcoords", 2),
                set_rows("vertex_texcoords", 2),
                flat=True,
            )
    return [("bsdf", getattr(shape, "bsdf", None)), ("emitter", getattr(shape, "emitter", None))]


# ---- emitters ----
def _emitter(t: _Traversal, emitter, name: str):
    kind = emitter.type_name
    if kind in ("area", "constant"):
        return [("radiance", emitter.radiance)]
    if kind == "point":

        def set_position(v):
            emitter.position = v.astype(np.float64)
            emitter.to_world = np.array(emitter.to_world, dtype=np.float64)
            emitter.to_world[:3, 3] = emitter.position

        t.add(
            name,
            "position",
            emitter,
            lambda: np.asarray(emitter.position, np.float32),
            set_position,
            differentiable=True,
        )
        return [("intensity", emitter.intensity)]
    if kind == "envmap":

        def set_data(v):
            emitter.data = np.ascontiguousarray(v, dtype=np.float32)
            tex = getattr(emitter, "texture", None)  # the bitmap view pack_envmap caches
            if tex is not None and hasattr(tex, "data"):
                tex.data = emitter.data

        def set_scale(v):
            emitter.scale = float(v[0])

        t.add(
            name,
            "data",
            emitter,
            lambda: np.asarray(emitter.data, np.float32),
            set_data,
            differentiable=True,
            check=_nonnegative,
        )
        t.add(name, "scale", emitter, _float1(lambda: emitter.scale), set_scale, check=_nonnegative)
    return []


# ---- sensors ----
def _check_camera_to_world(m: np.ndarray):
    linear = m[:3, :3].astype(np.float64)
    if np.any(np.abs(np.sum(linear * linear, axis=0) - 1.0) > _SCALE_TOLERANCE):
        return "a camera 'to_world' must not contain scale factors"
    return None


def _check_fov(v: np.ndarray):
    return None if 0.0 < float(v[0]) < 180.0 else "the field of view must be in (0, 180) degrees"


def _sensor(t: _Traversal, sensor, name: str):
    if sensor.type_name == "batch":  # Mitsuba's names: <batch>.<sub-sensor name>.to_world, ...
        return list(zip(sensor.sub_names, sensor.sub_sensors))
    if sensor.type_name == "perspective":

        def set_to_world(v):
            sensor.to_world = v.astype(np.float64)

        def set_fov(v):
            sensor.fov_x = sensor.fov = float(v[0])
            sensor.fov_axis = "x"

        t.add(
            name,
            "to_world",
            sensor,
            lambda: np.asarray(sensor.to_world, np.float32),
            set_to_world,
            check=_check_camera_to_world,
            refresh=_UPDATE_HOST,
        )
        t.add(
            name,
            "x_fov",
            sensor,
            _float1(lambda: sensor.fov_x),
            set_fov,
            check=_check_fov,
            refresh=_UPDATE_HOST,
        )
    return []


_HANDLERS = {
    "texture": _texture,
    "bsdf": _bsdf,
    "shape": _shape,
    "emitter": _emitter,
    "sensor": _sensor,
}


def traverse(scene) -> SceneParameters:
    """The parameters of a loaded `Scene` (Mitsuba's ``mi.traverse``); see the module
    docstring for the key names and what each update costs."""
    if not isinstance(scene, Scene):
        raise TypeError(
            f"traverse() expects a Scene (from tr.load_dict / tr.load_file), got "
            f"{type(scene).__name__}"
        )
    t = _Traversal(scene)
    roots = [(ident, plugin) for ident, plugin in scene.ids.items() if plugin is not None]
    t.named = {id(plugin) for _, plugin in roots}
    for ident, plugin in roots:
        t.visit(plugin, ident)
    unnamed = [
        *scene.sensors(),
        *scene.shapes(),
        *[e for e in scene.emitters() if e.type_name != "area"],
    ]
    for plugin in unnamed:
        if id(plugin) not in t.visited:
            t.visit(plugin, _class_name(plugin))
    return SceneParameters(scene, t.params)
