"""A sensor's film buffers: `FilmBuffers`, and `film_buffers(sensor)` to get them.

Each sensor gets, per film size, accumulation buffers and the output image field that every
render of it overwrites (as the API promises). They live in a weak dictionary of this module
keyed by sensor, so a sensor carries no renderer attribute. Taichi 1.7 never frees a field and
compiles new copies of the kernels that take it, so buffers are recycled: when a sensor goes,
or changes its film size, its buffers return to a pool by size, and the next sensor of that size
takes them over.
"""

from __future__ import annotations

import weakref

import taichi as ti

from .device.film import zero

vec3 = ti.math.vec3


class FilmBuffers:
    """Per-sensor accumulation buffers and the output field, allocated once per resolution:
    `accum` (H, W) vec3 ndarray, `weight` (H, W) f32 ndarray, `image` (H, W) vec3 field with
    gradients, `image_grad` (H, W) vec3 ndarray (the image's adjoint), `derivative` (the
    forward-mode image, allocated on first use)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.accum = ti.ndarray(vec3, (height, width))
        self.weight = ti.ndarray(ti.f32, (height, width))
        self.image = ti.Vector.field(3, ti.f32, shape=(height, width), needs_grad=True)
        self.image_grad = ti.ndarray(vec3, (height, width))  # adjoint of the image (backward)
        self.derivative = None  # forward-mode image, allocated on first use
        self._spare_weights = []

    def clear(self):
        zero(self.accum)
        zero(self.weight)

    def take_weight(self):
        """Hand over the sample weights of the last render (the torch bridge keeps them for its
        backward pass) and go on with other storage: a spare array, or a new one. A swap, not a
        copy."""
        weight = self.weight
        self.weight = self._spare_weights.pop() if self._spare_weights else ti.ndarray(ti.f32, weight.shape)
        return weight

    def restore_weight(self, weight):
        """Make `weight` (from `take_weight`) the current sample weights again; the array it
        displaces becomes a spare (at most two are kept)."""
        if weight is not self.weight:
            if len(self._spare_weights) < 2:
                self._spare_weights.append(self.weight)
            self.weight = weight


# buffers of sensors that no longer exist (or changed size), by (width, height)
_free_buffers: dict[tuple[int, int], list[FilmBuffers]] = {}
# sensor -> (its buffers, the finalizer that returns them to the pool)
_sensor_buffers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _release_buffers(buf: FilmBuffers) -> None:
    _free_buffers.setdefault((buf.width, buf.height), []).append(buf)


def film_buffers(sensor) -> FilmBuffers:
    """The sensor's buffers for its current film size (taken from the pool or allocated)."""
    width, height = (int(v) for v in sensor.film().crop_size())
    entry = _sensor_buffers.get(sensor)
    if entry is not None and (entry[0].width, entry[0].height) == (width, height):
        return entry[0]
    if entry is not None:
        entry[1]()  # the previous size's buffers go back to the pool now
    pool = _free_buffers.get((width, height))
    buf = pool.pop() if pool else FilmBuffers(width, height)
    _sensor_buffers[sensor] = (buf, weakref.finalize(sensor, _release_buffers, buf))
    return buf
