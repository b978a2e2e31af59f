"""Mitsuba 3 scene dictionaries -> `Scene` (or a single plugin).

Format (as ``mi.load_dict``)::

    {"type": "scene",
     "red": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.57, 0.04, 0.04]}},
     "wall": {"type": "rectangle", "to_world": ScalarTransform4f.translate([-1, 0, 0]),
              "bsdf": {"type": "ref", "id": "red"}},
     "sensor": {"type": "perspective", "fov": 39.3, "film": {"type": "hdrfilm"}}}

- Keys of the scene dict become the ids of their plugins (unless an ``"id"`` entry is given);
  nested keys are property names. Keys may not contain ``.``.
- Nested dicts with a ``"type"`` are child plugins, built depth-first as they are read;
  ``{"type": "ref", "id": ...}`` refers to an earlier plugin (not allowed at scene level).
- ``{"type": "rgb", "value": [r, g, b] | v}`` and ``{"type": "spectrum", "value": v |
  [(wavelength, value), ...]}`` or ``{"type": "spectrum", "filename": ...}`` are colors.
- Plain values: bool, int, float, str, 3-sequences (vectors/colors), `ScalarTransform4f` or
  4x4 lists/arrays (transforms), other numeric arrays (e.g. bitmap ``data``), and already loaded
  plugin instances.

Errors are `SceneError` naming the key path (``dict key 'red-wall.bsdf.reflectance'``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..backend import ensure_init
from ..core.errors import SceneError
from ..core.properties import Properties
from ..core.registry import Plugin, create, kind_of
from ..core.spectrum import spectrum_from_file, spectrum_to_rgb
from ..core.transform import ScalarTransform4f
from .scene import Scene


def load_dict(d: Mapping):
    """Load a Mitsuba 3 scene dict; returns a `Scene` for ``{"type": "scene", ...}`` and the
    plugin itself for any other type (as ``mi.load_dict``). Initialises Taichi if nobody did."""
    ensure_init()
    if not isinstance(d, Mapping):
        raise SceneError(f"load_dict expects a dict, got {type(d).__name__}")
    ids: dict[str, object] = {}
    type_name = _type_of(d, "<root>")
    if type_name != "scene":
        return _build_plugin(d, "", ids, top_level=True)

    props = Properties("scene", location="scene dict", kind="scene")
    for key, value in d.items():
        if key in ("type", "id"):
            continue
        _check_key(key, "")
        loc = _loc(key)
        if isinstance(value, Mapping):
            sub_type = _type_of(value, key)
            if sub_type == "ref":
                raise SceneError(f"{loc}: a reference cannot appear at scene level")
            if sub_type in ("rgb", "spectrum", "scene"):
                raise SceneError(f"{loc}: a {sub_type!r} cannot appear at scene level")
            props.set(key, _build_plugin(value, key, ids, top_level=True), loc, tag="plugin")
        elif isinstance(value, Plugin):
            props.set(key, value, loc, tag="plugin")
        else:
            raise SceneError(
                f"{loc}: unexpected {type(value).__name__} at scene level (expected a plugin "
                "dict with a 'type')"
            )
    return Scene(props, ids=ids)


def _loc(path: str) -> str:
    return f"dict key '{path}'"


def _check_key(key, parent: str) -> None:
    if not isinstance(key, str):
        raise SceneError(f"{_loc(parent or '<root>')}: keys must be strings, got {key!r}")
    if "." in key:
        raise SceneError(
            f"{_loc(_join(parent, key))}: key {key!r} contains '.', which separates key paths; "
            "use '_' instead"
        )


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _type_of(d: Mapping, path: str) -> str:
    t = d.get("type")
    if t is None:
        raise SceneError(f"{_loc(path)}: missing 'type' entry")
    if not isinstance(t, str):
        raise SceneError(f"{_loc(path)}: 'type' must be a string, got {t!r}")
    return t


def _build_plugin(d: Mapping, path: str, ids: dict, top_level: bool):
    loc = _loc(path or "<root>")
    type_name = _type_of(d, path or "<root>")
    kind = kind_of(type_name, loc)
    ident = d.get("id")
    if ident is not None and not isinstance(ident, str):
        raise SceneError(f"{loc}: 'id' must be a string, got {ident!r}")
    if ident is None and top_level and path:
        ident = path
    props = Properties(type_name, id=ident, location=loc, kind=kind)
    for key, value in d.items():
        if key in ("type", "id"):
            continue
        _check_key(key, path)
        sub = _join(path, key)
        value, tag, spectrum = _convert(value, sub, key, kind, ids)
        props.set(key, value, _loc(sub), tag=tag, spectrum=spectrum)
    plugin = create(kind, type_name, props)
    if ident is not None:
        if ident in ids and ids[ident] is not plugin:
            raise SceneError(f"{loc}: duplicate id '{ident}'")
        ids[ident] = plugin
    return plugin


def _convert(value, path: str, key: str, parent_kind: str, ids: dict):
    """A dict value -> (stored value, Properties tag, is_spectrum)."""
    loc = _loc(path)
    if isinstance(value, (bool, np.bool_)):
        return bool(value), "bool", False
    if isinstance(value, (int, np.integer)):
        return int(value), "int", False
    if isinstance(value, (float, np.floating)):
        return float(value), "float", False
    if isinstance(value, str):
        return value, "string", False
    if isinstance(value, Plugin):
        return value, "plugin", False
    if isinstance(value, ScalarTransform4f):
        return value.matrix.copy(), "transform", False
    if isinstance(value, Mapping):
        t = _type_of(value, path)
        if t == "rgb":
            return _rgb(value, loc), "color", False
        if t == "spectrum":
            return _spectrum(value, loc, key, parent_kind), "color", True
        if t == "ref":
            extra = set(value) - {"type", "id"}
            if extra:
                raise SceneError(f"{loc}: unexpected key(s) {sorted(extra)} in a ref")
            ref = value.get("id")
            if ref not in ids:
                raise SceneError(f"{loc}: reference to unknown id {ref!r}")
            return ids[ref], "plugin", False
        if t == "scene":
            raise SceneError(f"{loc}: a scene cannot be nested")
        return _build_plugin(value, path, ids, top_level=False), "plugin", False
    if value is None:
        raise SceneError(f"{loc}: None is not a valid property value")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SceneError(
            f"{loc}: unsupported value of type {type(value).__name__}: {value!r:.60}"
        ) from None
    if arr.ndim == 0:
        return float(arr), "float", False
    if arr.shape == (3,):
        return arr, "vector", False
    if arr.shape == (4, 4):
        return arr, "transform", False
    return arr, "array", False


def _rgb(d: Mapping, loc: str) -> np.ndarray:
    extra = set(d) - {"type", "value"}
    if extra or "value" not in d:
        raise SceneError(f"{loc}: an 'rgb' dict has exactly the keys 'type' and 'value'")
    try:
        arr = np.asarray(d["value"], dtype=np.float32)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.ndim == 0:
        arr = np.full(3, float(arr), dtype=np.float32)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise SceneError(f"{loc}: 'rgb' value must be 1 or 3 finite numbers, got {d['value']!r}")
    return arr


def _spectrum(d: Mapping, loc: str, key: str, parent_kind: str) -> np.ndarray:
    extra = set(d) - {"type", "value", "filename"}
    if extra or (("value" in d) == ("filename" in d)):
        raise SceneError(f"{loc}: a 'spectrum' dict has 'type' and one of 'value'/'filename'")
    within_emitter = parent_kind == "emitter"
    try:
        if "filename" in d:
            wl, val = spectrum_from_file(d["filename"])
        else:
            v = d["value"]
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                return spectrum_to_rgb(float(v))
            pairs = np.asarray(v, dtype=np.float64)
            if pairs.ndim != 2 or pairs.shape[1] != 2:
                raise ValueError("expected a number or a list of (wavelength, value) pairs")
            wl, val = pairs[:, 0], pairs[:, 1]
        return spectrum_to_rgb(wavelengths=wl, values=val, within_emitter=within_emitter, name=key)
    except (ValueError, TypeError, OSError) as exc:
        raise SceneError(f"{loc}: invalid spectrum: {exc}") from None
