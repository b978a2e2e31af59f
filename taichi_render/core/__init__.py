"""Core host-side building blocks: errors, plugin registry, property bags, transforms, spectra.

Nothing here imports Taichi.
"""

from .errors import PluginNotFoundError, SceneError
from .properties import REQUIRED, Properties
from .registry import (
    KINDS,
    Plugin,
    create,
    ensure_plugins_loaded,
    kind_of,
    plugin_names,
    register,
)
from .transform import ScalarTransform4f

__all__ = [
    "KINDS",
    "REQUIRED",
    "Plugin",
    "PluginNotFoundError",
    "Properties",
    "ScalarTransform4f",
    "SceneError",
    "create",
    "ensure_plugins_loaded",
    "kind_of",
    "plugin_names",
    "register",
]
