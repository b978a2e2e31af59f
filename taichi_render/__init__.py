"""taichi_render: a differentiable path tracer in Taichi, compatible with Mitsuba 3 scenes.

Importing the package never calls ``ti.init`` nor allocates Taichi fields.

When torch is not imported yet, importing taichi_render sets ``OMP_WAIT_POLICY=PASSIVE`` (unless
the variable is set already): torch's OpenMP threads otherwise spin for milliseconds after each
parallel operation and take the cores from the next render (measured: the path-replay adjoint
ran 13 % slower right after a torch MSE backward, 3 % with passive waiting).
"""

import os as _os
import sys as _sys

if "torch" not in _sys.modules:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
from . import ad, preview
from .ad import SceneParameters, render_forward, traverse
from .backend import init
from .io import read_bitmap, tonemap, write_bitmap
from .render.renderer import render

__all__ += [
    "SceneParameters",
    "ad",
    "init",
    "preview",
    "read_bitmap",
    "render",
    "render_forward",
    "tonemap",
    "traverse",
    "write_bitmap",
]
