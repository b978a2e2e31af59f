"""taichi_render: a differentiable path tracer in Taichi, compatible with Mitsuba 3 scenes.

Importing the package changes nothing outside it: it never calls ``ti.init``, allocates no
Taichi fields, sets no environment variable and adds no warning filter. What ``tr.init``
changes in the process is listed in docs/host_process.md.
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
from . import ad, cameras, preview
from .ad import SceneParameters, render_forward, traverse
from .backend import init
from .io import read_bitmap, tonemap, write_bitmap
from .render.renderer import render

__all__ += [
    "SceneParameters",
    "ad",
    "cameras",
    "init",
    "preview",
    "read_bitmap",
    "render",
    "render_forward",
    "tonemap",
    "traverse",
    "write_bitmap",
]
