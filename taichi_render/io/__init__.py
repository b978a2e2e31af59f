"""Image I/O: linear float images to and from EXR, RGBE, PFM, PNG and JPEG; sRGB helpers.

No Taichi initialisation and no codec import happen at import time.
"""

from .bitmap import (
    SUPPORTED_EXTENSIONS,
    linear_to_srgb,
    read_bitmap,
    srgb_to_linear,
    tonemap,
    write_bitmap,
)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "linear_to_srgb",
    "read_bitmap",
    "srgb_to_linear",
    "tonemap",
    "write_bitmap",
]
