"""Camera placement for multi-view renders: sensor dicts to pass to `tr.load_dict`.

Example (eight views of an object at the origin, rendered in one launch)::

    views = tr.cameras.fibonacci_sphere(8, center=[0, 0, 0], radius=3.0, fov=40, res=64)
    scene_dict["sensor"] = tr.cameras.batch(views, spp=16)
    scene = tr.load_dict(scene_dict)
    image = tr.render(scene)  # (64, 8 * 64, 3): view i in columns [64 i, 64 (i + 1))
"""

from __future__ import annotations

import math

import numpy as np

from .core.transform import ScalarTransform4f

__all__ = ["batch", "fibonacci_sphere"]


def _resolution(res) -> tuple[int, int]:
    if isinstance(res, (int, np.integer)) and not isinstance(res, bool):
        width = height = int(res)
    else:
        try:
            width, height = (int(v) for v in res)
        except (TypeError, ValueError):
            raise ValueError(f"res must be an int or a (width, height) pair, got {res!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"res must be positive, got {res!r}")
    return width, height


def _film(width: int, height: int, rfilter: str) -> dict:
    return {"type": "hdrfilm", "width": width, "height": height, "rfilter": {"type": rfilter}}


def fibonacci_sphere(n: int, center=(0.0, 0.0, 0.0), radius: float = 1.0, fov: float = 40.0, res=256,
                     spp: int | None = None, up=(0.0, 1.0, 0.0), rfilter: str = "box", **options) -> list[dict]:
    """`n` perspective sensor dicts on a sphere around `center`, each looking at it.

    The eye points are the Fibonacci lattice of the sphere of `radius` (Swinbank and Purser
    2006): point i at height (1 - (2 i + 1) / n) * radius along `up`, and turned about `up` by
    i times the golden angle, so that the views cover every direction almost evenly (their
    heights average to exactly zero).

    Args:
        n: number of cameras (>= 1).
        center: the point the cameras look at, (3,).
        radius: distance of every camera from `center` (> 0).
        fov: horizontal field of view in degrees (``fov_axis`` ``x``).
        res: film size, an int (square) or (width, height).
        spp: sample count of each sensor's sampler (default: the sampler's default).
        up: the sphere's axis, and the cameras' up direction (a camera that would look along it
            uses another one).
        rfilter: the films' reconstruction filter (``box``: pixels do not share samples, and
            the sub-images of a `batch` stay apart).
        **options: more entries of each sensor dict (``near_clip``, ``far_clip``, ...).
    Returns:
        A list of dicts ``{"type": "perspective", "fov": ..., "to_world": ..., "film": ...,
        "sampler": ...}``, for a scene dict or for `batch`.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not (math.isfinite(radius) and radius > 0.0):
        raise ValueError(f"radius must be a finite value > 0, got {radius!r}")
    center = np.asarray(center, np.float64).reshape(3)
    axis = np.asarray(up, np.float64).reshape(3)
    if not np.linalg.norm(axis) > 0.0:
        raise ValueError(f"up must be a nonzero 3-vector, got {up!r}")
    axis = axis / np.linalg.norm(axis)
    # two unit vectors orthogonal to the axis
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    width, height = _resolution(res)
    golden_angle = math.pi * (3.0 - math.sqrt(5.0))
    sensors = []
    for i in range(int(n)):
        h = 1.0 - (2.0 * i + 1.0) / n
        ring = math.sqrt(max(0.0, 1.0 - h * h))
        phi = i * golden_angle
        direction = h * axis + ring * (math.cos(phi) * e1 + math.sin(phi) * e2)
        eye = center + radius * direction
        cam_up = axis if abs(h) < 0.999 else e1  # a view along the axis needs another up
        sensor = {
            "type": "perspective",
            "fov": float(fov),
            "to_world": ScalarTransform4f.look_at(eye.tolist(), center.tolist(), cam_up.tolist()),
            "film": _film(width, height, rfilter),
            **options,
        }
        if spp is not None:
            sensor["sampler"] = {"type": "independent", "sample_count": int(spp)}
        sensors.append(sensor)
    return sensors


def batch(sensors, res=None, spp: int | None = None, rfilter: str = "box") -> dict:
    """A ``batch`` sensor dict rendering `sensors` side by side in one launch.

    Args:
        sensors: a list of sensor dicts (named ``sensor_0``, ``sensor_1``, ... in the batch, so
            that `tr.traverse` lists ``<batch id>.sensor_0.to_world``, ...), or a dict
            ``{name: sensor dict}``.
        res: the size of one view, an int or (width, height); default: the first sensor's film
            (768 x 576 without one). The batch's film is n * width x height.
        spp: the batch's sample count (default: the first sensor's sampler, else the sampler's
            default).
        rfilter: the batch film's reconstruction filter (``box`` keeps the views apart).
    """
    named = dict(sensors) if isinstance(sensors, dict) else {f"sensor_{i}": s for i, s in enumerate(sensors)}
    if not named:
        raise ValueError("batch needs at least one sensor")
    first = next(iter(named.values()))
    if res is None:
        film = first.get("film", {}) if isinstance(first, dict) else {}
        res = (film.get("width", 768), film.get("height", 576))
    width, height = _resolution(res)
    out = {"type": "batch", **named, "film": _film(len(named) * width, height, rfilter)}
    if spp is None and isinstance(first, dict) and "sampler" in first:
        spp = first["sampler"].get("sample_count")
    if spp is not None:
        out["sampler"] = {"type": "independent", "sample_count": int(spp)}
    return out
