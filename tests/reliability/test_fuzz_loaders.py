"""Fuzzing the scene loaders: hypothesis-generated dicts for `tr.load_dict` and XML documents for
`tr.load_file` / `tr.load_string` either load or raise one of the documented exceptions, never
anything else, and never take the interpreter down.

Documented exceptions (core/errors.py, scene/xml_loader.py): `SceneError` (a `ValueError`;
`PluginNotFoundError` is a subclass) for every bad input, including a missing scene file
(`load_file` raises `SceneError("<path>: scene file not found")`, not `FileNotFoundError`).

The generators stay close to real scenes (known plugin types and property names, mixed with
garbage) so that hypothesis reaches the plugin constructors and the Scene checks, not only the
first type check. File names only ever point at small files inside a private folder (an OBJ, a
PNG, an include file, the document itself, missing names): never at devices or system files.

Runs: ``FUZZ_EXAMPLES`` dicts and ``FUZZ_EXAMPLES`` XML documents in-process (derandomized, so
the suite is reproducible; set ``TR_FUZZ_SEED`` to explore other examples), and a smaller subset
in a subprocess that also renders every scene that loads (tiny films only), to prove that no
input crashes the interpreter (a segfault would show as a negative return code).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import taichi_render as tr
from taichi_render.core.errors import PluginNotFoundError, SceneError

# overflow/invalid-value warnings of numpy casts are expected on fuzzed numbers
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FUZZ_EXAMPLES = int(os.environ.get("TR_FUZZ_EXAMPLES", "200"))
SUBPROCESS_EXAMPLES = int(os.environ.get("TR_FUZZ_SUBPROCESS_EXAMPLES", "60"))
FUZZ_SEED = os.environ.get("TR_FUZZ_SEED")
DOCUMENTED = (SceneError,)  # PluginNotFoundError is a SceneError

# ---------------------------------------------------------------------------------------------
# vocabulary

PLUGIN_TYPES = {
    "shape": ["obj", "ply", "rectangle", "cube", "sphere", "disk"],
    "bsdf": ["diffuse", "dielectric", "thindielectric", "conductor", "roughconductor", "plastic",
             "roughplastic", "twosided"],
    "texture": ["bitmap", "checkerboard", "rgb"],
    "emitter": ["area", "point", "constant", "envmap"],
    "sensor": ["perspective"],
    "film": ["hdrfilm"],
    "rfilter": ["box", "gaussian"],
    "sampler": ["independent"],
    "integrator": ["path", "prb", "direct"],
}
ALL_TYPES = sorted({t for ts in PLUGIN_TYPES.values() for t in ts})
BOGUS_TYPES = ["teapot", "principled", "", "Diffuse", "scene", "ref", "spectrum", "blackbody"]
PROPERTY_NAMES = [
    "filename", "to_world", "radius", "center", "flip_normals", "face_normals", "bsdf",
    "emitter", "reflectance", "int_ior", "ext_ior", "eta", "k", "alpha", "alpha_u", "alpha_v",
    "distribution", "specular_reflectance", "specular_transmittance", "diffuse_reflectance",
    "nonlinear", "radiance", "intensity", "position", "scale", "fov", "fov_axis", "near_clip",
    "far_clip", "focal_length", "film", "sampler", "width", "height", "rfilter", "stddev",
    "sample_count", "seed", "max_depth", "rr_depth", "hide_emitters", "emitter_samples",
    "bsdf_samples", "data", "filter_type", "wrap_mode", "to_uv", "color0", "color1", "value",
    "pixel_format", "component_format", "raw", "crop_width", "crop_offset_x",
]
WEIRD_NAMES = ["", "_arg_0", "a.b", "ü", "x" * 80, "type", "id", "__class__"]
# file names: relative to the private folder of `assets` (some exist, some do not)
FILE_NAMES = ["mesh.obj", "bad.obj", "mesh.ply", "tex.png", "missing.obj", "missing.png",
              "inc.xml", "self.xml", "sub", "", ".", "spectrum.spd"]
STRINGS = ["rgb", "x", "smaller", "bilinear", "repeat", "ggx", "beckmann", "true", "nan", "1e400",
           "$spp", "&amp;", "\u2603", "a\nb"]


def floats():
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, 1e30, 1e300, 3.5e38, 45.0, 180.0]),
    )


def ints():
    return st.one_of(st.integers(-5, 300), st.sampled_from([0, 2**31 - 1, 2**31, 2**63, -2**40]))


# ---------------------------------------------------------------------------------------------
# dict scenes


def _scaled(s):
    """A `ScalarTransform4f` scale, or (for inputs the transform API itself rejects) the raw
    4x4 matrix, NaN and all: the loader must cope with both."""
    try:
        return tr.ScalarTransform4f().scale(s)
    except (ValueError, TypeError):
        return np.diag([*np.broadcast_to(np.asarray(s, np.float64), (3,)), 1.0])


def _looking_from(origin):
    try:
        return tr.ScalarTransform4f.look_at(origin, [0, 0, 0], [0, 1, 0])
    except (ValueError, TypeError):
        m = np.eye(4)
        m[:3, 3] = origin
        return m


def _leaf_values():
    return st.one_of(
        floats(),
        ints(),
        st.booleans(),
        st.sampled_from(STRINGS + FILE_NAMES),
        st.text(max_size=8),
        st.lists(floats(), min_size=0, max_size=5),
        st.lists(ints(), min_size=3, max_size=3),
        st.just(None),
        st.builds(lambda v: {"type": "rgb", "value": v},
                  st.one_of(floats(), st.lists(floats(), max_size=4), st.text(max_size=3))),
        st.builds(lambda v: {"type": "spectrum", "value": v},
                  st.one_of(floats(), st.lists(st.tuples(floats(), floats()), max_size=4))),
        st.builds(lambda i: {"type": "ref", "id": i},
                  st.sampled_from(["white", "nope", "", "red"])),
        st.builds(lambda s: np.full(s, 0.5, np.float32),
                  st.sampled_from([(2, 2, 3), (1, 1, 1), (0, 3, 3), (4, 4), (3,), (4, 4, 5)])),
        st.builds(_scaled, st.one_of(floats(), st.lists(floats(), min_size=3, max_size=3))),
        st.builds(_looking_from, st.lists(floats(), min_size=3, max_size=3)),
        st.sampled_from([b"bytes", 1j, {1, 2}, (1.0, 2.0, 3.0), object(), [[1, 2], [3]]]),
    )


def _plugin_dicts(children):
    key = st.one_of(st.sampled_from(PROPERTY_NAMES), st.sampled_from(WEIRD_NAMES))
    return st.builds(
        lambda t, props, ident: {"type": t, **props, **({"id": ident} if ident else {})},
        st.one_of(st.sampled_from(ALL_TYPES), st.sampled_from(BOGUS_TYPES), st.integers(0, 3)),
        st.dictionaries(key, st.one_of(_leaf_values(), children), max_size=5),
        st.one_of(st.none(), st.sampled_from(["white", "red", "", "a.b", "_x"])),
    )


SMALL_SENSOR = {
    "type": "perspective",
    "to_world": tr.ScalarTransform4f.look_at([0, 0, 4], [0, 0, 0], [0, 1, 0]),
    "film": {"type": "hdrfilm", "width": 8, "height": 6},
    "sampler": {"type": "independent", "sample_count": 1},
}


def _scene_dict(entries, sensor, white):
    d = {"type": "scene"}
    if white:
        d["white"] = {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.5, 0.5, 0.5]}}
    if sensor:
        d["sensor"] = dict(SMALL_SENSOR)
    d.update(entries)
    return d


GARBAGE_PLUGIN = st.recursive(_leaf_values(), _plugin_dicts, max_leaves=8)

# ---- structured plugins: the right kinds, plausible values, now and then a wrong one ---------


def _mostly(valid):
    """`valid` most of the time (about 9 in 10), anything (`_leaf_values`) otherwise."""
    return st.one_of(*([valid] * 9), _leaf_values())


def _vec3(lo=-3.0, hi=3.0):
    return st.lists(st.floats(lo, hi), min_size=3, max_size=3)


def _rgb_value():
    return st.one_of(
        st.builds(lambda v: {"type": "rgb", "value": v},
                  st.lists(st.floats(0, 1), min_size=3, max_size=3)),
        st.floats(0, 1),
        st.sampled_from([
            {"type": "rgb", "value": [1e-30] * 3},
            {"type": "rgb", "value": [1e30] * 3},
            {"type": "spectrum", "value": 0.5},
            {"type": "spectrum", "filename": "spectrum.spd"},
            {"type": "rgb", "value": [-1, 0, 0]},
        ]),
    )


def _texture():
    return st.one_of(
        _rgb_value(),
        st.builds(lambda f, extra: {"type": "bitmap", "filename": f, **extra},
                  st.sampled_from(["tex.png", "tex.png", "missing.png", "mesh.obj", "sub"]),
                  st.fixed_dictionaries({}, optional={
                      "filter_type": st.sampled_from(["bilinear", "nearest", "cubic"]),
                      "wrap_mode": st.sampled_from(["repeat", "mirror", "clamp", "wrap"]),
                      "raw": st.booleans()})),
        st.builds(lambda a: {"type": "bitmap", "data": a},
                  st.sampled_from([np.full((2, 2, 3), 0.5, np.float32),
                                   np.zeros((1, 1, 1), np.float32),
                                   np.full((2, 3, 3), np.nan, np.float32),
                                   np.zeros((2, 2, 2), np.float32)])),
        st.builds(lambda a, b: {"type": "checkerboard", "color0": a, "color1": b},
                  _rgb_value(), _rgb_value()),
    )


def _transform():
    return st.one_of(
        st.builds(lambda t, sc: tr.ScalarTransform4f.translate(t).scale(sc), _vec3(),
                  st.floats(0.1, 3)),
        st.builds(lambda a: tr.ScalarTransform4f.rotate([0, 1, 0], a), st.floats(-360, 360)),
        st.builds(_looking_from, _vec3(-5, 5)),
        st.builds(_scaled, st.one_of(floats(), st.lists(floats(), min_size=3, max_size=3))),
    )


def _props(spec: dict):
    """Optional properties ``name -> strategy`` (each mostly valid), now and then a wrong name."""
    return st.builds(
        lambda d, extra: {**d, **extra},
        st.fixed_dictionaries({}, optional={k: _mostly(v) for k, v in spec.items()}),
        st.one_of(st.just({}), st.just({}), st.just({}),
                  st.dictionaries(st.sampled_from(PROPERTY_NAMES + WEIRD_NAMES), _leaf_values(),
                                  max_size=1)),
    )


def _typed(type_strategy, spec):
    return st.builds(lambda t, props: {"type": t, **props}, type_strategy, _props(spec))


IOR = st.one_of(st.floats(0.5, 3.0), st.sampled_from([1.0, 1.5, "bk7", "water", "air", "xx"]))
BSDF_SPECS = {
    "diffuse": {"reflectance": _texture()},
    "dielectric": {"int_ior": IOR, "ext_ior": IOR, "specular_reflectance": _texture(),
                   "specular_transmittance": _texture()},
    "thindielectric": {"int_ior": IOR, "ext_ior": IOR},
    "conductor": {"eta": _rgb_value(), "k": _rgb_value(),
                  "material": st.sampled_from(["Au", "none", "Xx"]),
                  "specular_reflectance": _texture()},
    "roughconductor": {"alpha": st.floats(0, 1), "alpha_u": st.floats(0, 1),
                       "alpha_v": st.floats(0, 1),
                       "distribution": st.sampled_from(["ggx", "beckmann", "phong"]),
                       "eta": _rgb_value(), "k": _rgb_value(), "sample_visible": st.booleans()},
    "plastic": {"diffuse_reflectance": _texture(), "specular_reflectance": _texture(),
                "int_ior": IOR, "ext_ior": IOR, "nonlinear": st.booleans()},
    "roughplastic": {"diffuse_reflectance": _texture(), "specular_reflectance": _texture(),
                     "int_ior": IOR, "ext_ior": IOR, "nonlinear": st.booleans(),
                     "alpha": st.floats(0, 1), "alpha_u": st.floats(0, 1),
                     "distribution": st.sampled_from(["ggx", "beckmann", "phong"])},
}
PLAIN_BSDF = st.one_of(*[_typed(st.just(t), spec) for t, spec in BSDF_SPECS.items()])
BSDF = st.one_of(
    PLAIN_BSDF, PLAIN_BSDF, PLAIN_BSDF,
    st.builds(lambda a, b: {"type": "twosided", "a": a, **({"b": b} if b else {})}, PLAIN_BSDF,
              st.one_of(st.none(), st.none(), PLAIN_BSDF)),
    st.just({"type": "ref", "id": "white"}),
    st.just({"type": "ref", "id": "missing"}),
    st.just({"type": "twosided"}),
)
AREA = _typed(st.sampled_from(["area", "area", "area", "point"]), {"radiance": _rgb_value()})
SHAPE_COMMON = {"to_world": _transform(), "flip_normals": st.booleans(), "bsdf": BSDF,
                "emitter": AREA}
SHAPE_SPECS = {
    "sphere": {**SHAPE_COMMON, "radius": st.floats(1e-20, 3), "center": _vec3()},
    "rectangle": SHAPE_COMMON,
    "cube": SHAPE_COMMON,
    "disk": SHAPE_COMMON,
    "obj": {**SHAPE_COMMON,
            "filename": st.sampled_from(["mesh.obj", "mesh.obj", "bad.obj", "missing.obj",
                                         "mesh.ply", "sub"]),
            "face_normals": st.booleans(), "flip_tex_coords": st.booleans()},
    "ply": {**SHAPE_COMMON,
            "filename": st.sampled_from(["mesh.ply", "mesh.ply", "mesh.obj", "missing.ply"]),
            "face_normals": st.booleans()},
}
SHAPE = st.one_of(*[_typed(st.just(t), spec) for t, spec in SHAPE_SPECS.items()])
EMITTER = st.one_of(
    _typed(st.just("constant"), {"radiance": _rgb_value()}),
    _typed(st.just("point"), {"intensity": _rgb_value(), "position": _vec3()}),
    _typed(st.just("envmap"), {"filename": st.sampled_from(["tex.png", "missing.png"]),
                               "scale": st.floats(0, 2), "to_world": _transform()}),
)
SIZE = st.one_of(st.integers(1, 8), st.integers(1, 8), st.sampled_from([0, -1, 2**31, 10**20]))
SENSOR = _typed(st.just("perspective"), {
    "fov": st.floats(1, 179),
    "fov_axis": st.sampled_from(["x", "y", "smaller", "larger", "diagonal", "z"]),
    "near_clip": st.floats(1e-4, 1),
    "far_clip": st.floats(1, 1e4),
    "to_world": st.builds(_looking_from, _vec3(-6, 6)),
    "film": _typed(st.just("hdrfilm"), {
        "width": SIZE, "height": SIZE,
        "rfilter": _typed(st.sampled_from(["box", "gaussian"]), {"stddev": st.floats(0.1, 2)}),
        "pixel_format": st.sampled_from(["rgb", "rgba", "luminance", "xyz"])}),
    "sampler": _typed(st.just("independent"), {
        "sample_count": st.one_of(st.integers(1, 4), st.integers(-2, 0)),
        "seed": st.integers(-1, 10)}),
})
INTEGRATOR = _typed(st.sampled_from(["path", "prb", "direct"]), {
    "max_depth": st.integers(-1, 6), "rr_depth": st.integers(-1, 6),
    "hide_emitters": st.booleans(), "emitter_samples": st.integers(0, 3),
    "bsdf_samples": st.integers(0, 3)})


def _structured_scene(white, sensor, shapes, emitter, integrator, garbage):
    d = {"type": "scene"}
    if white:
        d["white"] = {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.5, 0.5, 0.5]}}
    if sensor is not None:
        d["sensor"] = sensor
    for i, shape in enumerate(shapes):
        d[f"shape_{i}"] = shape
    if emitter is not None:
        d["env"] = emitter
    if integrator is not None:
        d["integrator"] = integrator
    d.update(garbage)
    return d


STRUCTURED_SCENES = st.builds(
    _structured_scene,
    st.booleans(),
    st.one_of(st.none(), SENSOR, st.just(SMALL_SENSOR), st.just(SMALL_SENSOR)),
    st.lists(SHAPE, max_size=2),
    st.one_of(st.none(), EMITTER),
    st.one_of(st.none(), INTEGRATOR),
    st.one_of(st.just({}), st.just({}), st.just({}), st.just({}),
              st.dictionaries(st.sampled_from(["x", "y", "white", "sensor"] + WEIRD_NAMES),
                              st.one_of(GARBAGE_PLUGIN, _leaf_values()), max_size=2)),
)

SCENE_DICTS = st.one_of(
    STRUCTURED_SCENES,
    STRUCTURED_SCENES,
    STRUCTURED_SCENES,
    STRUCTURED_SCENES,
    st.builds(_scene_dict,
              st.dictionaries(
                  st.sampled_from(["shape", "light", "env", "sensor", "cam"] + WEIRD_NAMES),
                  st.one_of(GARBAGE_PLUGIN, _leaf_values()), max_size=3),
              st.booleans(), st.booleans()),
    st.one_of(SHAPE, BSDF, EMITTER, _texture(), GARBAGE_PLUGIN),  # a bare plugin
    st.sampled_from([[], None, "scene", 3, {"type": None}, {"no": "type"}]),
)

# ---------------------------------------------------------------------------------------------
# XML documents

XML_TAGS = ["shape", "bsdf", "texture", "emitter", "sensor", "film", "rfilter", "sampler",
            "integrator", "integer", "float", "boolean", "string", "point", "vector", "rgb",
            "spectrum", "transform", "translate", "rotate", "scale", "matrix", "lookat", "ref",
            "include", "default", "alias", "path", "scene", "bogus"]
ATTR_NAMES = ["type", "id", "name", "value", "filename", "version", "x", "y", "z", "angle",
              "origin", "target", "up", "as", "bogus"]
ATTR_VALUES = (ALL_TYPES + BOGUS_TYPES + PROPERTY_NAMES[:20] + FILE_NAMES + STRINGS
               + ["3.0.0", "2.1", "0", "-1", "1e40", "0, 1, 0", "1 2 3", "$x", "$", "true",
                  "1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1", "white", "red"])


_TEXT = st.one_of(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6),
                  st.text(max_size=3))


def _attr_text(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\n", "&#10;"))


ATTRIBUTES = st.dictionaries(
    st.sampled_from(ATTR_NAMES),
    st.one_of(st.sampled_from(ATTR_VALUES), st.sampled_from(ATTR_VALUES), _TEXT),
    max_size=3,
)


def _element(children):
    return st.builds(
        lambda tag, attrs, kids: (tag, attrs, kids),
        st.sampled_from(XML_TAGS),
        ATTRIBUTES,
        st.lists(children, max_size=4),
    )


LEAF_ELEMENT = st.builds(
    lambda tag, attrs: (tag, attrs, []),
    st.sampled_from(XML_TAGS),
    ATTRIBUTES,
)
ELEMENT = st.recursive(LEAF_ELEMENT, _element, max_leaves=16)


TRANSFORM_OPS = ("translate", "scale", "rotate", "matrix", "lookat")
_NON_FINITE = re.compile(r"nan|inf|1e400", re.IGNORECASE)


def _finite_op_value(tag: str, value: str) -> str:
    """Non-finite numbers inside transform operations hit a known loader bug (a bare
    ValueError, see `test_fuzz_xml_transform_values`), so the general XML fuzz keeps them
    finite to stay able to find other bugs."""
    return _NON_FINITE.sub("2", value) if tag in TRANSFORM_OPS else value


def _serialize(node) -> str:
    tag, attrs, kids = node
    a = "".join(f' {k}="{_attr_text(_finite_op_value(tag, v))}"' for k, v in attrs.items())
    if not kids:
        return f"<{tag}{a}/>"
    return f"<{tag}{a}>" + "".join(_serialize(k) for k in kids) + f"</{tag}>"


PROLOGUES = [
    "",
    '<?xml version="1.0" encoding="utf-8"?>\n',
    '<?xml version="1.0"?>\n<!DOCTYPE scene [<!ENTITY e "boom">]>\n',
    '<?xml version="1.0"?>\n<!DOCTYPE scene SYSTEM "http://127.0.0.1:9/x.dtd">\n',
    '<!DOCTYPE scene [<!ENTITY x SYSTEM "file:///etc/hostname">]>\n',
    "<!-- comment -->\n",
]


def _kind_of_type(type_name) -> str:
    for kind, types in PLUGIN_TYPES.items():
        if type_name in types:
            return kind
    return "shape"


def _num(x) -> str:
    return repr(float(x)) if isinstance(x, (float, np.floating)) else str(x)


def _to_xml(name, value) -> str:
    """One dict entry as Mitsuba XML (what a converter from another tool would write)."""
    n = f' name="{_attr_text(name)}"' if name is not None else ""
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        t = value["type"]
        if t == "rgb":
            v = value.get("value")
            v = ", ".join(_num(x) for x in v) if isinstance(v, (list, tuple)) else _num(v)
            return f'<rgb{n} value="{_attr_text(v)}"/>'
        if t == "spectrum":
            if "filename" in value:
                return f'<spectrum{n} filename="{_attr_text(str(value["filename"]))}"/>'
            return f'<spectrum{n} value="{_attr_text(_num(value.get("value")))}"/>'
        if t == "ref":
            return f'<ref{n} id="{_attr_text(str(value.get("id")))}"/>'
        ident = value.get("id")
        i = f' id="{_attr_text(ident)}"' if isinstance(ident, str) else ""
        body = "".join(_to_xml(k, v) for k, v in value.items() if k not in ("type", "id"))
        tag = _kind_of_type(t)
        return f'<{tag} type="{_attr_text(t)}"{n}{i}>{body}</{tag}>'
    if isinstance(value, (bool, np.bool_)):
        return f'<boolean{n} value="{str(bool(value)).lower()}"/>'
    if isinstance(value, (int, np.integer)):
        return f'<integer{n} value="{value}"/>'
    if isinstance(value, (float, np.floating)):
        return f'<float{n} value="{_num(value)}"/>'
    if isinstance(value, str):
        return f'<string{n} value="{_attr_text(value)}"/>'
    if isinstance(value, tr.ScalarTransform4f) or (isinstance(value, np.ndarray)
                                                    and value.shape == (4, 4)):
        m = np.asarray(getattr(value, "matrix", value), np.float64).ravel()
        if not np.all(np.isfinite(m)):  # known bug, see `_finite_op_value`
            m = np.where(np.isfinite(m), m, 2.0)
        return (f'<transform{n}><matrix value="{" ".join(_num(x) for x in m)}"/></transform>')
    if isinstance(value, (list, tuple)) and len(value) == 3:
        tag = "point" if name in ("center", "position", "origin") else "vector"
        return f'<{tag}{n} value="{_attr_text(", ".join(_num(x) for x in value))}"/>'
    return f'<string{n} value="{_attr_text(repr(value)[:20])}"/>'


def _structured_document(d, extras) -> str:
    if not isinstance(d, dict) or d.get("type") != "scene":
        return "<scene version=\"3.0.0\">" + _to_xml(None, d) + "</scene>"
    body = []
    for key, value in d.items():
        if key == "type":
            continue
        if isinstance(value, dict) and isinstance(value.get("type"), str) and \
                value["type"] not in ("rgb", "spectrum", "ref"):
            value = {**value, "id": key} if key.isidentifier() else value
        body.append(_to_xml(None, value))
    return '<scene version="3.0.0">' + "".join(extras) + "".join(body) + "</scene>"


XML_EXTRAS = st.lists(st.sampled_from([
    '<default name="spp" value="1"/>',
    '<include filename="inc.xml"/>',
    '<include filename="self.xml"/>',
    '<include filename="missing.xml"/>',
    '<path value="sub"/>',
    '<alias id="white" as="white2"/>',
    '<bsdf type="diffuse" id="white"/>',
    '<float name="stray" value="1"/>',
]), max_size=2)


def _mutate(text: str, prologue: str, mutation) -> str:
    text = prologue + text
    kind, pos, junk = mutation
    if kind == "truncate":
        text = text[: pos % (len(text) + 1)]
    elif kind == "insert":
        p = pos % (len(text) + 1)
        text = text[:p] + junk + text[p:]
    elif kind == "entity-ref":
        text = text.replace("/>", ' value="&e;"/>', 1)
    return text


MUTATIONS = st.one_of(
    st.just(("none", 0, "")),
    st.just(("none", 0, "")),
    st.just(("none", 0, "")),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just("")),
    st.tuples(st.just("insert"), st.integers(0, 10_000),
              st.sampled_from(["<", ">", "&", '"', "]]>", "\x00", "\ufffe", "<!--", "<?x?>",
                               "<shape/>", "&e;", "\u00e9", "$spp", "<integer value=\"1\"/>"])),
    st.just(("entity-ref", 0, "")),
)


def _random_document(kids, version):
    root_attrs = f' version="{version}"' if version is not None else ""
    return f"<scene{root_attrs}>" + "".join(_serialize(k) for k in kids) + "</scene>"


XML_DOCUMENTS = st.builds(
    _mutate,
    st.one_of(
        st.builds(_structured_document, STRUCTURED_SCENES, XML_EXTRAS),
        st.builds(_structured_document, STRUCTURED_SCENES, XML_EXTRAS),
        st.builds(_random_document, st.lists(ELEMENT, max_size=5),
                  st.one_of(st.none(), st.sampled_from(["3.0.0", "3.0.0", "2.0.0", "3", "x.y.z"]))),
    ),
    st.sampled_from(PROLOGUES + [""] * 8),
    MUTATIONS,
)


# ---------------------------------------------------------------------------------------------
# assets and the checks shared with the subprocess


def make_assets(folder: pathlib.Path) -> pathlib.Path:
    """Small files the fuzzed scenes may reference (never anything outside `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mesh.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\n")
    (folder / "bad.obj").write_text("v 0 0 nan\nv 1 0 0\nf 1 2 9\n")
    (folder / "mesh.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        "property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
        "0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"
    )
    tr.write_bitmap(folder / "tex.png", np.full((4, 4, 3), 0.5, np.float32))
    (folder / "inc.xml").write_text(
        '<scene version="3.0.0"><bsdf type="diffuse" id="incl"/></scene>'
    )
    (folder / "spectrum.spd").write_text("400 0.5\n500 0.5\n600 0.5\n700 0.5\n")
    (folder / "sub").mkdir(exist_ok=True)
    return folder


class Outcome:
    def __init__(self):
        self.loaded = 0
        self.rejected = 0
        self.rendered = 0

    def as_dict(self):
        return {"loaded": self.loaded, "rejected": self.rejected, "rendered": self.rendered}


def _small_film(scene) -> bool:
    try:
        return all(int(np.prod(s.film().crop_size())) <= 64 * 64 for s in scene.sensors())
    except Exception:  # noqa: BLE001 - only a filter for what we render
        return False


def check_dict(d, outcome: Outcome, render: bool = False) -> None:
    """load_dict(d) loads or raises SceneError with a non-empty message."""
    try:
        result = tr.load_dict(d)
    except DOCUMENTED as exc:
        assert str(exc).strip(), "a SceneError without a message"
        if isinstance(exc, PluginNotFoundError):
            assert "type" in str(exc)
        outcome.rejected += 1
        return
    outcome.loaded += 1
    if render and isinstance(result, tr.Scene) and _small_film(result):
        image = tr.render(result, spp=1).to_numpy()
        assert image.shape[2] == 3
        outcome.rendered += 1


def check_xml(text: str, folder: pathlib.Path, outcome: Outcome, via_file: bool,
              render: bool = False) -> None:
    """load_file / load_string on `text` loads or raises SceneError naming the document."""
    path = folder / "self.xml"  # written in both modes: '<include filename="self.xml"/>' loops
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        if via_file:
            scene = tr.load_file(path)
        else:
            scene = tr.load_string(text, base_dir=folder)
    except DOCUMENTED as exc:
        msg = str(exc)
        assert msg.strip()
        # errors of the document itself name it (plugins name it through their location)
        if via_file and "self.xml" not in msg:
            assert any(name in msg for name in ("inc.xml", "mesh", "tex.png", "spectrum")), msg
        outcome.rejected += 1
        return
    outcome.loaded += 1
    if render and _small_film(scene):
        tr.render(scene, spp=1).to_numpy()
        outcome.rendered += 1


def _settings(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=FUZZ_SEED is None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


def _seeded(f):
    return seed(int(FUZZ_SEED))(f) if FUZZ_SEED is not None else f


# ---------------------------------------------------------------------------------------------
# tests


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return make_assets(tmp_path_factory.mktemp("fuzz_assets"))


def test_fuzz_load_dict_raises_only_scene_errors(assets, monkeypatch):
    monkeypatch.chdir(assets)  # relative file names in dicts resolve against the cwd
    outcome = Outcome()

    @_seeded
    @_settings(FUZZ_EXAMPLES)
    @given(SCENE_DICTS)
    def run(d):
        check_dict(d, outcome)

    run()
    print(f"\nload_dict fuzz: {outcome.as_dict()}")
    assert outcome.loaded + outcome.rejected >= min(FUZZ_EXAMPLES, 50)
    assert outcome.loaded > 0 and outcome.rejected > 0  # the generator reaches both sides


def test_fuzz_xml_raises_only_scene_errors(assets):
    outcome = Outcome()

    @_seeded
    @_settings(FUZZ_EXAMPLES)
    @given(XML_DOCUMENTS, st.booleans())
    def run(text, via_file):
        check_xml(text, assets, outcome, via_file)

    run()
    print(f"\nXML fuzz: {outcome.as_dict()}")
    assert outcome.loaded + outcome.rejected >= min(FUZZ_EXAMPLES, 50)
    assert outcome.loaded > 0 and outcome.rejected > 0


def test_fuzz_non_mapping_and_missing_paths():
    for bad in ([], None, "scene", 3, b"x", [("type", "scene")]):
        with pytest.raises(SceneError):
            tr.load_dict(bad)
    for path in ("/nonexistent/scene.xml", "", "."):
        with pytest.raises(SceneError):
            tr.load_file(path)


FINITE_OR_NOT = st.one_of(st.floats(-1e3, 1e3), st.sampled_from([float("nan"), float("inf"),
                                                                 -float("inf"), 1e308]))


def _op_element(tag, values):
    def v(i):
        return repr(values[i % len(values)])

    if tag == "translate":
        return f'<translate value="{v(0)}, {v(1)}, {v(2)}"/>'
    if tag == "scale":
        return f'<scale value="{v(0)}"/>'
    if tag == "rotate":
        return f'<rotate x="{v(0)}" y="1" angle="{v(1)}"/>'
    if tag == "matrix":
        return f'<matrix value="{" ".join(v(i) for i in range(16))}"/>'
    return f'<lookat origin="{v(0)}, {v(1)}, {v(2)}" target="0, 0, 0" up="0, 1, 0"/>'


def test_fuzz_xml_transform_values(assets):
    """Transform operations with any float, NaN and infinities included: SceneError or a scene."""
    outcome = Outcome()

    @_seeded
    @_settings(max(FUZZ_EXAMPLES // 4, 20))
    @given(st.lists(st.tuples(st.sampled_from(TRANSFORM_OPS),
                              st.lists(FINITE_OR_NOT, min_size=1, max_size=16)),
                    min_size=1, max_size=3))
    def run(ops):
        body = "".join(_op_element(tag, values) for tag, values in ops)
        text = ('<scene version="3.0.0">\n<shape type="sphere">\n<transform name="to_world">\n'
                f"{body}\n</transform>\n</shape>\n</scene>")
        check_xml(text, assets, outcome, via_file=True)

    run()


SUBPROCESS_SCRIPT = textwrap.dedent(
    """
    import json, os, pathlib, sys
    sys.path.insert(0, {tests_dir!r})
    import taichi_render as tr
    tr.init(os.environ.get("TR_TEST_ARCH", "cpu"))
    import test_fuzz_loaders as F
    from hypothesis import given, strategies as st

    folder = F.make_assets(pathlib.Path({folder!r}))
    os.chdir(folder)
    n = int(sys.argv[1])
    dicts, xmls = F.Outcome(), F.Outcome()

    @F._seeded
    @F._settings(n)
    @given(F.STRUCTURED_SCENES)
    def run_dicts(d):
        F.check_dict(d, dicts, render=True)

    @F._seeded
    @F._settings(n)
    @given(F.XML_DOCUMENTS, st.booleans())
    def run_xml(text, via_file):
        F.check_xml(text, folder, xmls, via_file, render=True)

    run_dicts()
    run_xml()
    result = {{"dicts": dicts.as_dict(), "xml": xmls.as_dict()}}
    pathlib.Path(sys.argv[2]).write_text(json.dumps(result))
    """
)


@pytest.mark.spawns
def test_fuzz_subset_in_subprocess_never_crashes(tmp_path):
    """The same generators in a fresh interpreter, rendering what loads: exit code 0."""
    script = tmp_path / "fuzz_subset.py"
    script.write_text(SUBPROCESS_SCRIPT.format(tests_dir=str(pathlib.Path(__file__).parent),
                                               folder=str(tmp_path / "assets")))
    out = tmp_path / "fuzz_subset.json"
    proc = subprocess.run(  # noqa: PLW1510 - the return code is the point of the test
        [sys.executable, str(script), str(SUBPROCESS_EXAMPLES), str(out)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert proc.returncode == 0, (
        f"fuzz subprocess exited with {proc.returncode} (negative: killed by a signal)\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    result = json.loads(out.read_text())
    print(f"\nfuzz subprocess ({SUBPROCESS_EXAMPLES} dicts + {SUBPROCESS_EXAMPLES} XML): {result}")
    total = sum(v for part in result.values() for k, v in part.items() if k != "rendered")
    assert total >= SUBPROCESS_EXAMPLES
