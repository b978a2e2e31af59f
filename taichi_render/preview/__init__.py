"""Live preview of an optimization (GGUI window, off-screen frames or inline in a notebook).

``tr.preview.Preview(target=None, show_window=True, **options)``; see :mod:`.preview`.
Importing this package does not import Taichi's GUI nor open anything.
"""

from .controls import Controls
from .preview import BACKENDS, Preview, choose_backend

__all__ = ["BACKENDS", "Controls", "Preview", "choose_backend"]
