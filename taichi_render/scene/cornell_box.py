"""`cornell_box()`: the Cornell box of the reference images, as a Mitsuba 3 scene dict.

Identical to ``tests/reference/cbox/cbox_scene.md`` ("Full scene dict"): Mitsuba 3.9.1's
``mi.cornell_box()`` with a box reconstruction filter, a 256x256 film, ``path`` with max_depth 3
and 64 samples per pixel. Transforms are `ScalarTransform4f` built from the exact float32
matrices Mitsuba produced. Each call returns a fresh dict, so callers may edit it::

    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 64
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
"""

from __future__ import annotations

from ..core.transform import ScalarTransform4f

# Row-major 4x4 to_world matrices, copied from cbox_scene.md.
_SENSOR_TO_WORLD = [
    [-1.0, 0.0, 0.0, 0.0],
    [0.0, 0.9999999, 0.0, 0.0],
    [0.0, 0.0, -0.9999999, 3.9000001],
    [0.0, 0.0, 0.0, 1.0],
]
_SHAPES = {  # id: (type, bsdf id, to_world)
    "light": (
        "rectangle",
        "white",
        [
            [0.23, 0.0, 0.0, 0.0],
            [0.0, 0.0, -0.19, 0.99],
            [0.0, 0.19, 0.0, 0.01],
            [0.0, 0.0, 0.0, 1.0],
        ],
    ),
    "floor": (
        "rectangle",
        "white",
        [
            [0.9999999, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, -1.0],
            [0.0, -1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ],
    ),
    "ceiling": (
        "rectangle",
        "white",
        [
            [0.9999999, 0.0, 0.0, 0.0],
            [0.0, 0.0, -1.0, 1.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ],
    ),
    "back": (
        "rectangle",
        "white",
        [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    "green-wall": (
        "rectangle",
        "green",
        [
            [0.0, 0.0, -1.0, 1.0],
            [0.0, 0.9999999, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ],
    ),
    "red-wall": (
        "rectangle",
        "red",
        [
            [0.0, 0.0, 1.0, -1.0],
            [0.0, 0.9999999, 0.0, 0.0],
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ],
    ),
    "small-box": (
        "cube",
        "white",
        [
            [0.2868915, 0.0, -0.0877115, 0.335],
            [0.0, 0.3, 0.0, -0.7],
            [0.0877115, 0.0, 0.2868915, 0.38],
            [0.0, 0.0, 0.0, 1.0],
        ],
    ),
    "large-box": (
        "cube",
        "white",
        [
            [0.2849098, 0.0, 0.0939491, -0.33],
            [0.0, 0.61, 0.0, -0.4],
            [-0.0939491, 0.0, 0.2849098, -0.28],
            [0.0, 0.0, 0.0, 1.0],
        ],
    ),
}
_REFLECTANCE = {
    "white": [0.885809, 0.698859, 0.666422],
    "green": [0.105421, 0.37798, 0.076425],
    "red": [0.570068, 0.0430135, 0.0443706],
}
LIGHT_RADIANCE = [18.387, 13.9873, 6.75357]  #: RGB radiance of the ceiling light, W/(m^2 sr)


def cornell_box() -> dict:
    """The reference Cornell box scene dict (a new, independent dict on every call)."""
    d = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 3},
        "sensor": {
            "type": "perspective",
            "fov_axis": "smaller",
            "near_clip": 0.001,
            "far_clip": 100.0,
            "focus_distance": 1000,
            "fov": 39.3077,
            "to_world": ScalarTransform4f(_SENSOR_TO_WORLD),
            "sampler": {"type": "independent", "sample_count": 64},
            "film": {
                "type": "hdrfilm",
                "width": 256,
                "height": 256,
                "rfilter": {"type": "box"},
                "pixel_format": "rgb",
                "component_format": "float32",
            },
        },
    }
    for name, rgb in _REFLECTANCE.items():
        d[name] = {"type": "diffuse", "reflectance": {"type": "rgb", "value": list(rgb)}}
    for name, (shape_type, bsdf, to_world) in _SHAPES.items():
        d[name] = {
            "type": shape_type,
            "to_world": ScalarTransform4f(to_world),
            "bsdf": {"type": "ref", "id": bsdf},
        }
        if name == "light":
            d[name]["emitter"] = {
                "type": "area",
                "radiance": {"type": "rgb", "value": list(LIGHT_RADIANCE)},
            }
    return d
