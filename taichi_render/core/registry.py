"""Plugin registry: maps (kind, type_name) to host plugin classes.

Plugins register themselves when their module is imported::

    @register("bsdf", "diffuse")
    class Diffuse(Plugin):
        def __init__(self, props):
            super().__init__(props)
            self.reflectance = props.get_texture("reflectance", 0.5)

and loaders build them with ``create("bsdf", "diffuse", props)``, which calls
``props.check_unused()`` once the constructor has returned. The plugin packages
(``taichi_render.shapes``, ``bsdfs``, ...) are imported lazily by `ensure_plugins_loaded`, the
first time a type is not found, so that importing `taichi_render` stays cheap.
"""

from __future__ import annotations

import importlib

from .errors import PluginNotFoundError, SceneError

#: Plugin kinds, in the order Mitsuba lists them; also the XML tag names.
KINDS = (
    "shape",
    "bsdf",
    "texture",
    "emitter",
    "sensor",
    "film",
    "rfilter",
    "sampler",
    "integrator",
)

#: Packages whose ``__init__`` imports every plugin module of one kind.
PLUGIN_PACKAGES = (
    "taichi_render.shapes",
    "taichi_render.bsdfs",
    "taichi_render.textures",
    "taichi_render.emitters",
    "taichi_render.sensors",
    "taichi_render.films",
    "taichi_render.rfilters",
    "taichi_render.samplers",
    "taichi_render.integrators",
)

_registry: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}
_plugins_loaded = False


class Plugin:
    """Base class of host plugins.

    Class attributes `kind` and `type_name` are set by `register`. Instance attributes:
    `id` (the explicit id from the scene, or None) and `props_location` (where the plugin was
    declared, for error messages).
    """

    kind: str | None = None
    type_name: str | None = None

    def __init__(self, props):
        self.id = props.id
        self.props_location = props.location

    def __repr__(self) -> str:
        ident = f" id={self.id!r}" if self.id is not None else ""
        return f"<{self.kind} {self.type_name!r}{ident} at {self.props_location}>"


def register(kind: str, type_name: str):
    """Class decorator registering a plugin class under ``(kind, type_name)``.

    Sets ``cls.kind`` and ``cls.type_name``. Registering a second, different class under a
    taken name raises `ValueError` (re-registering the same class, e.g. on module reload, is fine).
    """
    if kind not in _registry:
        raise ValueError(f"unknown plugin kind {kind!r}; expected one of {', '.join(KINDS)}")

    def decorator(cls):
        old = _registry[kind].get(type_name)
        if old is not None and old is not cls and _qualname(old) != _qualname(cls):
            raise ValueError(
                f"{kind} plugin {type_name!r} is already registered by {_qualname(old)}"
            )
        cls.kind = kind
        cls.type_name = type_name
        _registry[kind][type_name] = cls
        return cls

    return decorator


def unregister(kind: str, type_name: str) -> None:
    """Remove a registration (used by tests that register throwaway plugins)."""
    _registry.get(kind, {}).pop(type_name, None)


def ensure_plugins_loaded() -> None:
    """Import every plugin package once, so that their plugins register themselves.

    An ImportError inside a plugin package propagates: a broken plugin must not look like an
    unknown one.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    for name in PLUGIN_PACKAGES:
        importlib.import_module(name)
    _plugins_loaded = True


def lookup(kind: str, type_name: str) -> type | None:
    """The class registered under ``(kind, type_name)``, or None (loads the plugins if needed)."""
    cls = _registry.get(kind, {}).get(type_name)
    if cls is None and not _plugins_loaded:
        ensure_plugins_loaded()
        cls = _registry.get(kind, {}).get(type_name)
    return cls


def kind_of(type_name: str, location: str = "<unknown>") -> str:
    """The kind of the plugin type ``type_name`` (types are unique across kinds, as in Mitsuba).

    Raises `PluginNotFoundError` naming the type and `location` when no kind provides it.
    """
    kinds = [k for k in KINDS if type_name in _registry[k]]
    if not kinds and not _plugins_loaded:
        ensure_plugins_loaded()
        kinds = [k for k in KINDS if type_name in _registry[k]]
    if not kinds:
        raise PluginNotFoundError(f"{location}: unknown plugin type {type_name!r}")
    if len(kinds) > 1:
        raise SceneError(
            f"{location}: plugin type {type_name!r} is ambiguous (a {' and a '.join(kinds)})"
        )
    return kinds[0]


def create(kind: str, type_name: str, props):
    """Build the plugin ``(kind, type_name)`` from the `Properties` bag ``props``.

    After the constructor returns, ``props.check_unused()`` reports any property the plugin did
    not read. Raises `PluginNotFoundError` (naming type, kind and ``props.location``) for an
    unknown type.
    """
    if kind not in _registry:
        raise SceneError(f"{props.location}: unknown plugin kind {kind!r}")
    cls = lookup(kind, type_name)
    if cls is None:
        known = ", ".join(sorted(_registry[kind])) or "none"
        raise PluginNotFoundError(
            f"{props.location}: unknown {kind} plugin type {type_name!r} (known: {known})"
        )
    try:
        plugin = cls(props)
    except SceneError:
        raise
    except (ValueError, OSError) as exc:
        # e.g. a missing mesh file or a bad value caught by numpy: report where it was declared
        raise SceneError(f"{type_name} {kind} plugin at {props.location}: {exc}") from exc
    props.check_unused()
    return plugin


def plugin_names(kind: str) -> list[str]:
    """Sorted type names registered for ``kind`` (loads the plugin packages first)."""
    if kind not in _registry:
        raise ValueError(f"unknown plugin kind {kind!r}")
    ensure_plugins_loaded()
    return sorted(_registry[kind])


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
