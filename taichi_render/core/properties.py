"""`Properties`: the typed property bag a plugin is constructed from.

Loaders fill a bag per plugin with `Properties.set`; each value keeps the location it came from
(``scene.xml:14`` per XML element, ``dict key 'red-wall.bsdf.reflectance'`` per dict entry), so
that an error points at the exact property. Plugins read values with typed getters, each
``get_x(name, default=REQUIRED)``; reading marks a property used, and `check_unused` (called by
the registry after the constructor) reports the rest.

Stored value kinds (``Entry.tag``) and what they hold:

========== ==================================================================
int        Python int
float      Python float
bool       Python bool
string     Python str
vector     np.ndarray (3,) float64 (``<point>``, ``<vector>``, a 3-list in a dict)
color      np.ndarray (3,) float32 (``<rgb>``, ``{"type": "rgb"}``, a converted spectrum)
transform  np.ndarray (4, 4) float64
array      np.ndarray float64 of any other shape (dict values, e.g. bitmap data)
plugin     a host plugin instance (child object or reference)
========== ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SceneError
from .registry import Plugin, create
from .transform import ScalarTransform4f

REQUIRED = object()  # sentinel: no default, the property must be given

_TAG_NAMES = {
    "int": "an integer",
    "float": "a float",
    "bool": "a boolean",
    "string": "a string",
    "vector": "a 3-vector",
    "color": "an RGB color",
    "transform": "a transform",
    "array": "an array",
    "plugin": "a plugin",
}


_SCALAR_NAMES = {"int": "integer", "float": "float", "bool": "boolean"}


@dataclass
class Entry:
    """One stored property: value, tag (see module doc), location, and whether it was read."""

    value: object
    tag: str
    location: str
    used: bool = False
    spectrum: bool = False  # color converted from a <spectrum> (only for messages)


class Properties:
    """Typed bag of the properties of one plugin.

    Attributes: `type_name` (plugin type string), `kind` (``"bsdf"``...; None if unknown),
    `id` (explicit id or None), `location` (where the plugin was declared).
    """

    def __init__(
        self,
        type_name: str,
        id: str | None = None,
        location: str = "<python>",
        kind: str | None = None,
    ):
        self.type_name = type_name
        self.id = id
        self.location = location
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    # ---- Filling (loaders) ----
    def set(
        self,
        name: str,
        value,
        location: str | None = None,
        tag: str | None = None,
        spectrum: bool = False,
    ) -> None:
        """Store ``value`` under ``name``; a name given twice is an error at ``location``."""
        loc = location or self.location
        if name in self._entries:
            prev = self._entries[name].location
            raise SceneError(
                f"{self._who(loc)}: property '{name}' was specified multiple times "
                f"(previous at {prev})"
            )
        tag = tag or _infer_tag(value)
        if tag is None:
            raise SceneError(
                f"{self._who(loc)}: property '{name}' has an unsupported value "
                f"of type {type(value).__name__}"
            )
        self._entries[name] = Entry(_normalize(value, tag), tag, loc, spectrum=spectrum)

    def __setitem__(self, name, value):
        self.set(name, value)

    # ---- Introspection ----
    def has(self, name: str) -> bool:
        return name in self._entries

    __contains__ = has

    def names(self) -> list[str]:
        """Property names in declaration order."""
        return list(self._entries)

    def entry(self, name: str) -> Entry:
        """The raw `Entry` (does not mark it used)."""
        return self._entries[name]

    def location_of(self, name: str) -> str:
        e = self._entries.get(name)
        return e.location if e is not None else self.location

    def mark_used(self, name: str) -> None:
        self._entries[name].used = True

    def unused(self) -> list[str]:
        return [n for n, e in self._entries.items() if not e.used]

    # ---- Errors ----
    def _who(self, location: str) -> str:
        return f"{self.type_name} plugin at {location}"

    def error(self, message: str, name: str | None = None):
        """Raise `SceneError` with ``message`` at the property ``name`` (or at the plugin)."""
        raise SceneError(f"{self._who(self.location_of(name))}: {message}")

    def check_unused(self) -> None:
        """Raise `SceneError` listing the properties nobody read (at the first one's location)."""
        left = self.unused()
        if not left:
            return
        first = self._entries[left[0]]
        if len(left) == 1:
            what = "child object" if first.tag == "plugin" else "property"
            msg = f"unused {what} '{left[0]}'"
        else:
            msg = "unused properties " + ", ".join(f"'{n}'" for n in left)
        raise SceneError(
            f"{self._who(first.location)}: {msg} (not a parameter of {self.type_name!r})"
        )

    # ---- Typed getters ----
    def _get(self, name, default, accept, expected):
        e = self._entries.get(name)
        if e is None:
            if default is REQUIRED:
                self.error(f"required property '{name}' ({expected}) is missing")
            return None, default
        e.used = True
        if e.tag not in accept:
            self.error(f"property '{name}' expects {expected}, got {_describe(e)}", name)
        return e, None

    def get_int(self, name: str, default=REQUIRED) -> int:
        """An integer in the 32-bit signed range (kernels take 32-bit integers)."""
        e, d = self._get(name, default, ("int",), "an integer")
        if e is None:
            return d
        value = int(e.value)
        if not -(2**31) <= value < 2**31:
            self.error(f"property '{name}' = {value} is outside the 32-bit integer range", name)
        return value

    def get_float(self, name: str, default=REQUIRED) -> float:
        e, d = self._get(name, default, ("float", "int"), "a float")
        return d if e is None else float(e.value)

    def get_bool(self, name: str, default=REQUIRED) -> bool:
        e, d = self._get(name, default, ("bool",), "a boolean")
        return d if e is None else bool(e.value)

    def get_string(self, name: str, default=REQUIRED) -> str:
        e, d = self._get(name, default, ("string",), "a string")
        return d if e is None else e.value

    def get_vector3(self, name: str, default=REQUIRED) -> np.ndarray:
        """(3,) float64."""
        e, d = self._get(name, default, ("vector",), "a 3-vector")
        if e is None:
            return None if d is None else np.array(d, dtype=np.float64).reshape(3)
        return e.value.copy()

    get_point3 = get_vector3

    def get_transform(self, name: str, default=None) -> np.ndarray:
        """(4, 4) float64; identity when absent and no default is given."""
        e, d = self._get(name, default, ("transform",), "a transform (4x4 matrix)")
        if e is None:
            return np.eye(4) if d is None else np.array(d, dtype=np.float64).reshape(4, 4)
        return e.value.copy()

    def get_array(self, name: str, default=REQUIRED) -> np.ndarray:
        """Any numeric array value (vector, color, transform or array) as a float64 copy."""
        e, d = self._get(name, default, ("array", "vector", "color", "transform"), "an array")
        return d if e is None else np.array(e.value, dtype=np.float64)

    def get_color(self, name: str, default=REQUIRED) -> np.ndarray:
        """(3,) float32 from a float (gray), an rgb, a spectrum, a 3-vector or an rgb texture."""
        e = self._entries.get(name)
        if e is not None and e.tag == "plugin":
            e.used = True
            value = getattr(e.value, "value", None)
            if e.value.type_name == "rgb" and value is not None and np.shape(value) == (3,):
                return np.asarray(value, dtype=np.float32).copy()
            self.error(f"property '{name}' expects a color, got {_describe(e)}", name)
        e, d = self._get(name, default, ("color", "vector", "float", "int"), "a color")
        if e is None:
            return None if d is None else _to_color(d)
        return _to_color(e.value)

    def get_plugin(self, name: str, kind: str, default=None):
        """The child plugin ``name``, which must be of ``kind`` (``"bsdf"``...).

        Without an entry ``name``, an anonymous child of that kind (an XML child element without
        a ``name`` attribute, e.g. ``<film>`` in ``<sensor>``) is taken if there is exactly one.
        """
        if name not in self._entries:
            anon = [
                n
                for n, e in self._entries.items()
                if e.tag == "plugin" and n.startswith("_arg_") and e.value.kind == kind
            ]
            if len(anon) > 1:
                self.error(f"several anonymous {kind} children, expected one '{name}'", anon[1])
            if anon:
                name = anon[0]
        e, d = self._get(name, default, ("plugin",), f"a {kind} plugin")
        if e is None:
            return d
        if e.value.kind != kind:
            self.error(f"property '{name}' expects a {kind} plugin, got {_describe(e)}", name)
        return e.value

    def get_texture(self, name: str, default=REQUIRED):
        """A texture plugin; floats, colors, spectra and 3-vectors are wrapped in an ``rgb``
        texture (built through the registry). ``default`` may be a number, a 3-sequence or None.
        The wrapper is cached: asking twice returns the same object.
        """
        e = self._entries.get(name)
        if e is None:
            if default is REQUIRED:
                self.error(f"required property '{name}' (a texture or color) is missing")
            if default is None or isinstance(default, Plugin):
                return default
            return self._wrap_rgb(_to_color(default), self.location)
        e.used = True
        if e.tag == "plugin":
            if e.value.kind != "texture":
                self.error(f"property '{name}' expects a texture, got {_describe(e)}", name)
            return e.value
        if e.tag not in ("color", "vector", "float", "int"):
            self.error(f"property '{name}' expects a texture or color, got {_describe(e)}", name)
        tex = self._wrap_rgb(_to_color(e.value), e.location)
        e.value, e.tag = tex, "plugin"
        return tex

    def _wrap_rgb(self, color: np.ndarray, location: str):
        props = Properties("rgb", location=location, kind="texture")
        props.set("value", color, location, tag="color")
        return create("texture", "rgb", props)

    def children(self, kind: str | None = None) -> list[tuple[str, object]]:
        """Child plugins ``[(name, plugin)]`` of ``kind`` (all kinds if None), in declaration
        order; marks them used."""
        out = []
        for n, e in self._entries.items():
            if e.tag == "plugin" and (kind is None or e.value.kind == kind):
                e.used = True
                out.append((n, e.value))
        return out

    def __repr__(self) -> str:
        items = ", ".join(f"{n}={_describe(e)}" for n, e in self._entries.items())
        return f"Properties({self.type_name!r}, id={self.id!r}, {items})"


# ---- helpers ----
def _infer_tag(value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Plugin):
        return "plugin"
    if isinstance(value, ScalarTransform4f):
        return "transform"
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if arr.shape == (3,):
            return "vector"
        if arr.shape == (4, 4):
            return "transform"
        return "array"
    return None


def _normalize(value, tag):
    if tag == "bool":
        return bool(value)
    if tag == "int":
        return int(value)
    if tag == "float":
        return float(value)
    if tag == "vector":
        return np.array(value, dtype=np.float64).reshape(3)
    if tag == "color":
        return _to_color(value)
    if tag == "transform":
        return np.array(getattr(value, "matrix", value), dtype=np.float64).reshape(4, 4)
    if tag == "array":
        return np.array(value, dtype=np.float64)
    return value


def _to_color(value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim == 0:
        arr = np.full(3, float(arr), dtype=np.float32)
    if arr.shape != (3,):
        raise SceneError(f"a color needs 1 or 3 values, got shape {arr.shape}")
    return arr.copy()


def _describe(e: Entry) -> str:
    v = e.value
    if e.tag == "string":
        return f"string {v!r}"
    if e.tag == "plugin":
        return f"{v.kind} plugin {v.type_name!r}"
    if e.tag in _SCALAR_NAMES:
        return f"{_SCALAR_NAMES[e.tag]} {v!r}"
    if e.tag == "color":
        kind = "spectrum" if e.spectrum else "rgb"
        return f"{kind} {np.array2string(v, separator=', ')}"
    if e.tag == "vector":
        return f"vector {np.array2string(v, separator=', ')}"
    return _TAG_NAMES.get(e.tag, e.tag)
