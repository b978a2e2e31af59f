"""High dynamic range film (Mitsuba's ``hdrfilm``): the image the sensor records.

================  ======  ========================================================================
Parameter         Type    Description
================  ======  ========================================================================
width, height     int     Film size in pixels (> 0). Defaults 768 and 576.
crop_offset_x/y   int     Top-left corner of the rendered window (>= 0). Default 0.
crop_width/height int     Size of the rendered window (> 0); the window must fit in the film.
                          Default: the rest of the film from the offset.
file_format       string  ``openexr`` (default; also ``exr``), ``rgbe`` or ``pfm``.
pixel_format      string  ``rgb`` (default), ``rgba``, ``luminance``, ``luminance_alpha``, ``xyz``,
                          ``xyza``. The renderer produces RGB; the value is kept for writers.
component_format  string  ``float16`` (default), ``float32`` or ``uint32``.
sample_border     bool    Also sample a border of the filter's ``border_size`` (ceil(radius -
                          0.5) pixels: 2 for the default Gaussian, 0 for the box) around the
                          image, whose samples reach the outer pixels through the filter, as
                          Mitsuba does. Needed for the vertex-position gradients of the
                          projective integrators where shapes enter or leave the image (edges
                          are then integrated over the border too). Default false: samples
                          cover the image only (what lies outside changes no pixel).
(nested)          rfilter Reconstruction filter. Default ``gaussian`` (stddev 0.5), as Mitsuba.
================  ======  ========================================================================

Exposes ``width``, ``height``, ``crop_offset`` (``(x, y)``), ``crop_width``, ``crop_height``,
``file_format``, ``pixel_format``, ``component_format``, ``sample_border``, ``rfilter`` (plugin),
and the methods ``size() -> (width, height)`` and ``crop_size() -> (width, height)``.

Example::

    tr.load_dict({"type": "hdrfilm", "width": 256, "height": 256, "rfilter": {"type": "box"}})
"""

from __future__ import annotations

from ..core.properties import Properties
from ..core.registry import Plugin, create, register

FILE_FORMATS = ("openexr", "exr", "rgbe", "pfm")
PIXEL_FORMATS = ("rgb", "rgba", "luminance", "luminance_alpha", "xyz", "xyza")
COMPONENT_FORMATS = ("float16", "float32", "uint32")


def _read_choice(props, name: str, default: str, choices) -> str:
    value = props.get_string(name, default).lower()
    if value not in choices:
        props.error(f"invalid {name} {value!r}; expected one of {', '.join(choices)}", name)
    return value


def _read_int(props, name: str, default: int, minimum: int) -> int:
    value = props.get_int(name, default)
    if value < minimum:
        props.error(f"'{name}' must be >= {minimum}, got {value}", name)
    return value


@register("film", "hdrfilm")
class HDRFilm(Plugin):
    """Linear RGB film; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self.width = _read_int(props, "width", 768, 1)
        self.height = _read_int(props, "height", 576, 1)
        if self.width * self.height >= 2**31:
            props.error(f"film of {self.width} x {self.height} pixels exceeds 2^31 pixels", "width")
        ox = _read_int(props, "crop_offset_x", 0, 0)
        oy = _read_int(props, "crop_offset_y", 0, 0)
        self.crop_offset = (ox, oy)
        self.crop_width = _read_int(props, "crop_width", max(self.width - ox, 1), 1)
        self.crop_height = _read_int(props, "crop_height", max(self.height - oy, 1), 1)
        if ox + self.crop_width > self.width or oy + self.crop_height > self.height:
            props.error(
                f"invalid crop window: offset ({ox}, {oy}) + size ({self.crop_width}, "
                f"{self.crop_height}) exceeds the film size ({self.width}, {self.height})",
                "crop_width" if ox + self.crop_width > self.width else "crop_height",
            )
        self.file_format = _read_choice(props, "file_format", "openexr", FILE_FORMATS)
        self.pixel_format = _read_choice(props, "pixel_format", "rgb", PIXEL_FORMATS)
        self.component_format = _read_choice(
            props, "component_format", "float16", COMPONENT_FORMATS
        )
        self.sample_border = props.get_bool("sample_border", False)
        filters = props.children("rfilter")
        if len(filters) > 1:
            props.error("a film takes at most one rfilter", filters[1][0])
        if filters:
            self.rfilter = filters[0][1]
        else:
            self.rfilter = create(
                "rfilter",
                "gaussian",
                Properties("gaussian", location=props.location, kind="rfilter"),
            )

    def size(self) -> tuple[int, int]:
        """(width, height) of the whole film."""
        return (self.width, self.height)

    def crop_size(self) -> tuple[int, int]:
        """(width, height) of the rendered window (the image the renderer returns)."""
        return (self.crop_width, self.crop_height)
