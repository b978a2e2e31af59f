"""Several sensors rendered side by side in one launch (Mitsuba's ``batch``).

======================  =========  ==============================================================
Parameter               Type       Description
======================  =========  ==============================================================
(nested)                sensor     The sub-sensors (``perspective``), at least one, in order.
(nested)                film       Default ``hdrfilm`` (768 x 576, gaussian filter). Its width
                                   must be a multiple of the number of sub-sensors; no crop
                                   window.
(nested)                sampler    Default ``independent`` (4 samples).
======================  =========  ==============================================================

As in Mitsuba 3, the batch's film is split into as many vertical strips as there are
sub-sensors, left to right in their order: sub-sensor i renders into the pixel columns
[i * w, (i + 1) * w), w = width / n, with the batch's height. Each sub-sensor's own film is
resized to w x height (Mitsuba's ``set_size``) and otherwise ignored, as is its sampler: the
batch's film (its reconstruction filter) and sampler (its sample count) apply. A sub-sensor keeps
its horizontal field of view ``x_fov`` (worked out from its own film when it was loaded, as in
Mitsuba); the vertical one follows from the strip's aspect ratio. A filter wider than a pixel
(the default gaussian) spreads the samples at a strip's edge into the neighbouring strip's edge
pixels, as in Mitsuba; a ``box`` filter keeps the strips apart. A sub-sensor passed on its own
(``tr.render(scene, sensor=batch.sub_sensors[i])``) renders its view at the strip's size; with
the same seed and a box filter, strip 0 of the batch equals that render of sub-sensor 0 (the
random numbers of a pixel are keyed by its index within its strip, strips one after the other).

`tr.traverse` lists the sub-sensors' parameters under ``<batch>.<name>.to_world`` and
``.x_fov``, with Mitsuba's names: a sub-sensor's id, else its key in a dict scene, else
``sensor<i>`` (an anonymous XML child, i its position).

Exposes ``sub_sensors`` (list), ``sub_names`` (their names as above), ``sub_width`` (w),
``film()``, ``sampler()`` and the numpy reference `sample_ray`.

Example::

    tr.load_dict({"type": "batch",
                  "front": {"type": "perspective", "fov": 40,
                            "to_world": tr.ScalarTransform4f.look_at([0, 0, 4], [0, 0, 0], [0, 1, 0])},
                  "side": {"type": "perspective", "fov": 40,
                           "to_world": tr.ScalarTransform4f.look_at([4, 0, 0], [0, 0, 0], [0, 1, 0])},
                  "film": {"type": "hdrfilm", "width": 512, "height": 256, "rfilter": {"type": "box"}}})
"""

from __future__ import annotations

import numpy as np

from ..core.registry import Plugin, register
from .perspective import _child


def _resize_film(film, width: int, height: int) -> None:
    """Mitsuba's ``Film::set_size``: a new size, the crop window reset to the whole film."""
    film.width, film.height = width, height
    film.crop_offset = (0, 0)
    film.crop_width, film.crop_height = width, height


@register("sensor", "batch")
class BatchSensor(Plugin):
    """Sub-sensors side by side on one film; see the module docstring."""

    def __init__(self, props):
        super().__init__(props)
        self._film = _child(props, "film", "hdrfilm")
        self._sampler = _child(props, "sampler", "independent")
        subs = []
        for name, child in props.children():
            if child.kind in ("film", "sampler"):
                continue
            if child.kind != "sensor":
                props.error(
                    f"child '{name}' is a {child.kind} plugin ({child.type_name!r}); the children "
                    "of a batch sensor are sensors, one film and one sampler",
                    name,
                )
            if child.type_name == "batch":
                props.error(f"child '{name}': a batch sensor cannot hold another batch sensor", name)
            subs.append((name, child))
        if not subs:
            props.error("a batch sensor needs at least one sub-sensor (a nested sensor plugin)")
        width, height = self._film.size()
        film_key = next((name for name, _ in props.children("film")), None)  # None: the default
        if width % len(subs):
            props.error(
                f"the film's horizontal resolution (currently {width}) must be divisible by the "
                f"number of sub-sensors ({len(subs)})",
                film_key,
            )
        if tuple(self._film.crop_offset) != (0, 0) or tuple(self._film.crop_size()) != (width, height):
            props.error("the film of a batch sensor cannot have a crop window", film_key)
        self.sub_width = width // len(subs)
        self.sub_sensors = [child for _, child in subs]
        self.sub_names = [
            child.id or (name if not name.startswith("_arg_") else f"sensor{i}")
            for i, (name, child) in enumerate(subs)
        ]
        for sensor in self.sub_sensors:
            _resize_film(sensor.film(), self.sub_width, height)

    def film(self):
        """The film plugin (``hdrfilm``) the sub-images share."""
        return self._film

    def sampler(self):
        """The sampler plugin (``independent``)."""
        return self._sampler

    def sample_ray(self, film_uv) -> tuple[np.ndarray, np.ndarray]:
        """Numpy reference of the camera ray for a position in [0, 1]^2 on the batch's film
        (Mitsuba's ``BatchSensor::sample_ray``): u * n picks sub-sensor min(floor(u * n),
        n - 1), whose `sample_ray` takes the fraction (u * n - index, v). Returns (origin,
        direction) as the sub-sensors' `sample_ray` does."""
        uv = np.asarray(film_uv, dtype=np.float64)
        single = uv.ndim == 1
        uv = uv.reshape(-1, 2)
        n = len(self.sub_sensors)
        scaled = uv[:, 0] * n
        index = np.minimum(np.floor(scaled).astype(np.int64), n - 1)
        o, d = np.zeros((len(uv), 3)), np.zeros((len(uv), 3))
        for i, sensor in enumerate(self.sub_sensors):
            mine = index == i
            if np.any(mine):
                local = np.stack([scaled[mine] - i, uv[mine, 1]], axis=1)
                o[mine], d[mine] = sensor.sample_ray(local)
        return (o[0], d[0]) if single else (o, d)
