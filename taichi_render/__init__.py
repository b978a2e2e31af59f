"""taichi_render: a differentiable path tracer in Taichi, compatible with Mitsuba 3 scenes.

Importing the package never calls ``ti.init`` nor allocates Taichi fields.
"""

from .core.errors import PluginNotFoundError, SceneError
from .core.transform import ScalarTransform4f
from .scene import Scene, cornell_box, load_dict, load_file, load_string

__all__ = [
    "PluginNotFoundError",
    "ScalarTransform4f",
    "Scene",
    "SceneError",
    "cornell_box",
    "load_dict",
    "load_file",
    "load_string",
]

# ---- Rendering API (init, render, traverse, ...): added by the lead below this line ----
from .backend import init  # noqa: E402
from .io import read_bitmap, tonemap, write_bitmap  # noqa: E402
from .render.renderer import render  # noqa: E402
from . import ad  # noqa: E402
from . import preview  # noqa: E402
from .ad import SceneParameters, render_forward, traverse  # noqa: E402

__all__ += ["SceneParameters", "ad", "preview", "init", "read_bitmap", "render", "render_forward", "tonemap", "traverse",
            "write_bitmap"]
