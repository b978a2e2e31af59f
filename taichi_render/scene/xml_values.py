"""Values of Mitsuba XML property elements and transform operations.

Helpers of `xml_loader`: each takes the lxml element and the `_Source` it came from (for
``file:line`` errors via ``src.error(elem, message)``), and follows Mitsuba's parsing rules
(``"1, 2, 3"`` or ``"1 2 3"``; ``value`` or ``x``/``y``/``z``; strict number syntax).
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..core.errors import SceneError
from ..core.spectrum import parse_spectrum_value, spectrum_from_file, spectrum_to_rgb
from ..core.transform import ScalarTransform4f

_FLOAT_RE = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*", re.IGNORECASE
)
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")
_SPLIT = re.compile(r"[,\s]+")


def check_attrs(elem, src, allowed, required=()) -> None:
    for key in elem.attrib:
        if key not in allowed:
            src.error(elem, f"unexpected attribute '{key}' in element <{elem.tag}>")
    for key in required:
        if elem.get(key) is None:
            src.error(elem, f"missing attribute '{key}' in element <{elem.tag}>")


def parse_float(text: str, elem, src) -> float:
    if text is None or not _FLOAT_RE.fullmatch(text):
        src.error(elem, f"could not parse floating point value {text!r}")
    return float(text)


def parse_floats(text: str, elem, src) -> list[float]:
    return [parse_float(t, elem, src) for t in _SPLIT.split(text.strip()) if t]


def parse_xyz(elem, src, default: float) -> np.ndarray:
    """A 3-vector from ``value="x, y, z"`` (or one value for all three) or x/y/z attributes."""
    if elem.get("value") is not None:
        if any(elem.get(k) is not None for k in "xyz"):
            src.error(elem, "can't mix 'value' and 'x'/'y'/'z' attributes")
        vals = parse_floats(elem.get("value"), elem, src)
        if len(vals) not in (1, 3):
            src.error(elem, "'value' must have exactly 1 or 3 elements")
        return np.array(vals * 3 if len(vals) == 1 else vals)
    return np.array(
        [parse_float(elem.get(k), elem, src) if elem.get(k) is not None else default for k in "xyz"]
    )


def parse_named_vec(elem, src, key: str) -> np.ndarray:
    vals = parse_floats(elem.get(key), elem, src)
    if len(vals) != 3:
        src.error(elem, f"'{key}' must have exactly 3 elements")
    return np.array(vals)


def parse_property(elem, src, resolve, within_emitter: bool):
    """Value of a property element other than ``<transform>`` -> (value, tag, is_spectrum).

    ``resolve(filename) -> absolute path`` resolves relative file names; ``within_emitter``
    selects unbounded spectra (see `spectrum_to_rgb`).
    """
    tag = elem.tag
    if tag in ("integer", "float", "boolean", "string"):
        check_attrs(elem, src, {"name", "value"}, ("name", "value"))
        text = elem.get("value")
        if tag == "integer":
            if not _INT_RE.fullmatch(text):
                src.error(elem, f"could not parse integer value {text!r}")
            return int(text), "int", False
        if tag == "float":
            return parse_float(text, elem, src), "float", False
        if tag == "boolean":
            if text.strip().lower() not in ("true", "false"):
                src.error(elem, f"could not parse boolean value {text!r} (true or false)")
            return text.strip().lower() == "true", "bool", False
        if elem.get("name") == "filename" and text:
            text = resolve(text)
        return text, "string", False
    if tag in ("point", "vector"):
        check_attrs(elem, src, {"name", "value", "x", "y", "z"}, ("name",))
        return parse_xyz(elem, src, 0.0), "vector", False
    if tag == "rgb":
        check_attrs(elem, src, {"name", "value"}, ("name", "value"))
        vals = parse_floats(elem.get("value"), elem, src)
        if len(vals) not in (1, 3):
            src.error(elem, f"<rgb> needs one or three values, got {elem.get('value')!r}")
        return np.array(vals * 3 if len(vals) == 1 else vals, dtype=np.float32), "color", False
    if tag == "spectrum":
        return _parse_spectrum(elem, src, resolve, within_emitter), "color", True
    src.error(elem, f"unknown property element <{tag}>")


def _parse_spectrum(elem, src, resolve, within_emitter: bool) -> np.ndarray:
    check_attrs(elem, src, {"name", "value", "filename"}, ("name",))
    name, value, fname = elem.get("name"), elem.get("value"), elem.get("filename")
    if (value is None) == (fname is None):
        src.error(elem, "<spectrum> needs exactly one of 'value' or 'filename'")
    try:
        if fname is not None:
            path = resolve(fname)
            if not os.path.isfile(path):
                src.error(elem, f"spectrum file {fname!r} not found (looked for {path})")
            parsed = spectrum_from_file(path)
        else:
            parsed = parse_spectrum_value(value)
        if isinstance(parsed, float):
            return spectrum_to_rgb(parsed)
        return spectrum_to_rgb(
            wavelengths=parsed[0],
            values=parsed[1],
            within_emitter=within_emitter,
            name=name,
        )
    except ValueError as exc:
        if isinstance(exc, SceneError):
            raise
        src.error(elem, f"invalid spectrum: {exc}")


def transform_op(op, src) -> ScalarTransform4f:
    T = ScalarTransform4f
    if op.tag == "translate":
        check_attrs(op, src, {"value", "x", "y", "z"})
        return T.translate(parse_xyz(op, src, 0.0))
    if op.tag == "scale":
        check_attrs(op, src, {"value", "x", "y", "z"})
        return T.scale(parse_xyz(op, src, 1.0))
    if op.tag == "rotate":
        check_attrs(op, src, {"value", "x", "y", "z", "angle"}, ("angle",))
        axis = parse_xyz(op, src, 0.0)
        if not np.any(axis):
            src.error(op, "<rotate> needs a non-zero axis")
        return T.rotate(axis, parse_float(op.get("angle"), op, src))
    if op.tag == "matrix":
        check_attrs(op, src, {"value"}, ("value",))
        vals = parse_floats(op.get("value"), op, src)
        if len(vals) not in (9, 16):
            src.error(op, f"<matrix> expects 16 (or 9) values, got {len(vals)}")
        n = 4 if len(vals) == 16 else 3
        return T(np.array(vals).reshape(n, n))
    check_attrs(op, src, {"origin", "target", "up"}, ("origin", "target"))  # <lookat>
    origin, target = parse_named_vec(op, src, "origin"), parse_named_vec(op, src, "target")
    if op.get("up") is not None:
        up = parse_named_vec(op, src, "up")
    else:  # Mitsuba: first tangent of coordinate_system(dir)
        d = target - origin
        n = d / (np.linalg.norm(d) or 1.0)
        sign = 1.0 if n[2] >= 0 else -1.0
        a = -1.0 / (sign + n[2])
        up = np.array([1.0 + sign * n[0] * n[0] * a, sign * n[0] * n[1] * a, -sign * n[0]])
    try:
        return T.look_at(origin, target, up)
    except ValueError as exc:
        src.error(op, f"invalid <lookat>: {exc}")
