"""Mitsuba 3 XML scenes -> `Scene`.

Supported: ``<scene version=...>``, ``<default name value>`` and ``$name`` substitution in
attribute values (keyword arguments of `load_file` override defaults), plugin elements
(``shape bsdf texture emitter sensor film rfilter sampler integrator``) with ``type``/``id``/
``name``, ``<ref id name>``, ``<alias id as>``, ``<include filename>``, ``<path value>``,
``<integer> <float> <boolean> <string> <point> <vector> <rgb> <spectrum>`` and ``<transform>``
with ``<translate> <rotate> <scale> <matrix> <lookat>`` (each op left-multiplies).

Plugins are built bottom-up as they are read, so an error in a nested plugin is reported first.
Every error is a `SceneError` naming ``file:line``. The parser is hardened: no network, no DTD
loading, no entity expansion, and documents that declare entities or an external DTD are
rejected before anything is resolved.
"""

from __future__ import annotations

import codecs
import os
import re

import numpy as np
from lxml import etree

from ..backend import ensure_init
from ..core.errors import SceneError
from ..core.properties import Properties
from ..core.registry import KINDS, create
from .scene import Scene
from .xml_values import check_attrs, parse_property, transform_op

PROPERTY_TAGS = ("integer", "float", "boolean", "string", "point", "vector", "rgb", "spectrum")
TRANSFORM_OPS = ("translate", "rotate", "scale", "matrix", "lookat")
_ENTITY_RE = re.compile(r"<!ENTITY|<!DOCTYPE\s+[^\s>\[]+\s+(?:SYSTEM|PUBLIC)\b")
# Byte signatures of XML encodings that are not ASCII-compatible (XML 1.0, appendix F).
_WIDE_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


def load_file(path, **defaults) -> Scene:
    """Load a Mitsuba 3 XML scene file.

    ``defaults`` override the scene's ``<default name=... value=...>`` entries (values are
    converted with `str`). A keyword that is neither declared by a ``<default>`` nor used as
    ``$name`` is an error. Relative file names resolve against the scene file's folder.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SceneError(f"{path}: scene file not found")
    ctx = _Context(defaults, os.path.dirname(os.path.abspath(path)))
    root, src = _read_document(os.path.abspath(path), path, None)
    return _load_root(root, src, ctx)


def load_string(text: str, base_dir=None, **defaults) -> Scene:
    """Load a scene from an XML string; relative paths resolve against ``base_dir`` (or cwd)."""
    base = os.path.abspath(os.fspath(base_dir) if base_dir is not None else os.getcwd())
    ctx = _Context(defaults, base)
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    src = _Source("<string>", os.path.join(base, "<string>"))
    return _load_root(_parse_bytes(data, src), src, ctx)


class _Source:
    """One XML file: ``display`` (path as shown in messages) and ``path`` (absolute)."""

    def __init__(self, display: str, path: str):
        self.display, self.path, self.dir = display, path, os.path.dirname(path)

    def loc(self, elem) -> str:
        return f"{self.display}:{elem.sourceline}"

    def error(self, elem, message: str):
        raise SceneError(f"{self.loc(elem)}: {message}")


class _Context:
    def __init__(self, kwargs: dict, main_dir: str):
        self.kwargs = {k: _param_str(v) for k, v in kwargs.items()}
        self.params = dict(self.kwargs)  # keyword arguments win over <default>
        self.declared: set[str] = set()
        self.used: set[str] = set()
        self.ids: dict[str, tuple[object, str]] = {}
        self.search_dirs = [main_dir]
        self.chain: list[tuple[str, str]] = []  # (realpath, display) of open files

    def resolve(self, filename: str, src: _Source) -> str:
        """Absolute path of ``filename``: the current file's folder first, then the main
        scene's folder and ``<path>`` folders; the first candidate if none exists."""
        if os.path.isabs(filename):
            return filename
        cands = [os.path.normpath(os.path.join(d, filename)) for d in [src.dir, *self.search_dirs]]
        return next((c for c in cands if os.path.exists(c)), cands[0])


def _param_str(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


# ---- Reading documents ----
def _read_document(path: str, display: str, include_loc):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise SceneError(f"{include_loc or display}: cannot read {display}: {exc}") from None
    src = _Source(display, path)
    return _parse_bytes(data, src), src


def _parse_bytes(data: bytes, src: _Source):
    text = _markup_text(data)
    m = _ENTITY_RE.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise SceneError(f"{src.display}:{line}: external/entity declarations are not allowed")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else exc.lineno
        raise SceneError(f"{src.display}:{line}: malformed XML: {exc.msg}") from None
    info = root.getroottree().docinfo
    dtd = info.internalDTD
    if info.system_url or info.public_id or (dtd is not None and list(dtd.iterentities())):
        raise SceneError(f"{src.display}:1: external/entity declarations are not allowed")
    return root


def _markup_text(data: bytes) -> str:
    """The document as text, good enough to scan its markup before parsing it."""
    for signature, codec in _WIDE_ENCODINGS:
        if data.startswith(signature):
            return data.decode(codec, errors="replace")
    return data.decode("latin-1")  # ASCII-compatible encodings keep markup bytes as they are


def _load_root(root, src: _Source, ctx: _Context) -> Scene:
    ensure_init()  # the API promises loaders initialise Taichi if nobody did
    _substitute(root, src, ctx)
    if root.tag != "scene":
        src.error(root, f"root element <{root.tag}> must be <scene>")
    check_attrs(root, src, {"version"})
    _check_version(root, src)
    ctx.chain.append((os.path.realpath(src.path), src.display))
    props = Properties("scene", location=src.loc(root), kind="scene")
    _parse_children(root, props, src, ctx, "scene", [0])
    for name in ctx.kwargs:
        if name not in ctx.declared and name not in ctx.used:
            raise SceneError(
                f"{src.display}: parameter '{name}' was passed to the loader, but the scene "
                f'declares no <default name="{name}"> and never uses ${name}'
            )
    return Scene(props, ids={k: v[0] for k, v in ctx.ids.items()})


def _check_version(elem, src: _Source, required: bool = True) -> None:
    version = elem.get("version")
    if version is None:
        if required:
            src.error(elem, "missing attribute 'version' in root element <scene>")
        return
    parts = [p for p in re.split(r"[.\s]+", version.strip()) if p]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        src.error(elem, f"could not parse version number {version!r}")


# ---- Elements ----
def _substitute(elem, src: _Source, ctx: _Context) -> None:
    """Replace ``$name`` in every attribute of ``elem`` (longest names first, as Mitsuba)."""
    for key, value in elem.attrib.items():
        if "$" not in value:
            continue
        new = value
        for name in sorted(ctx.params, key=len, reverse=True):
            if "$" + name in new:
                new = new.replace("$" + name, ctx.params[name])
                ctx.used.add(name)
        if "$" in new:
            src.error(elem, f"undefined parameter in {key}={value!r} (no <default> for it)")
        elem.set(key, new)


def _check_text(text, elem, src: _Source) -> None:
    if text and text.strip():
        src.error(elem, f"unexpected text {text.strip()[:40]!r} in element <{elem.tag}>")


def _parse_children(
    elem, props: Properties, src: _Source, ctx: _Context, parent_kind: str, counter: list
) -> None:
    _check_text(elem.text, elem, src)
    for child in elem:
        if isinstance(child, (etree._Comment, etree._ProcessingInstruction)):
            pass
        elif isinstance(child, etree._Entity):
            src.error(child, "entity references are not allowed")
        else:
            _parse_child(child, props, src, ctx, parent_kind, counter)
        _check_text(child.tail, elem, src)


def _child_name(elem, src: _Source, counter: list) -> str:
    name = elem.get("name")
    if name is None:
        counter[0] += 1
        return f"_arg_{counter[0] - 1}"
    if name.startswith("_") or not name:
        src.error(elem, f"invalid name {name!r}: leading underscores are reserved")
    return name


def _parse_child(elem, props, src: _Source, ctx: _Context, parent_kind: str, counter) -> None:
    _substitute(elem, src, ctx)
    tag, loc = elem.tag, src.loc(elem)
    if tag in KINDS:
        plugin = _parse_object(elem, src, ctx)
        props.set(_child_name(elem, src, counter), plugin, loc, tag="plugin")
    elif tag == "ref":
        check_attrs(elem, src, {"id", "name"}, ("id",))
        ref_id = elem.get("id")
        if ref_id not in ctx.ids:
            src.error(elem, f"reference to unknown id '{ref_id}'")
        props.set(_child_name(elem, src, counter), ctx.ids[ref_id][0], loc, tag="plugin")
    elif tag == "include":
        _include(elem, props, src, ctx, parent_kind, counter)
    elif tag == "default":
        check_attrs(elem, src, {"name", "value"}, ("name", "value"))
        if not elem.get("name"):
            src.error(elem, "<default>: name must be non-empty")
        ctx.declared.add(elem.get("name"))
        ctx.params.setdefault(elem.get("name"), elem.get("value"))
    elif tag == "alias":
        check_attrs(elem, src, {"id", "as"}, ("id", "as"))
        if elem.get("id") not in ctx.ids:
            src.error(elem, f"reference to unknown id '{elem.get('id')}'")
        _add_id(elem.get("as"), ctx.ids[elem.get("id")][0], elem, src, ctx)
    elif tag == "path":
        check_attrs(elem, src, {"value"}, ("value",))
        if parent_kind != "scene":
            src.error(elem, "<path> can only be a child of <scene>")
        folder = ctx.resolve(elem.get("value"), src)
        if not os.path.isdir(folder):
            src.error(elem, f"<path>: folder {folder!r} not found")
        ctx.search_dirs.insert(0, folder)
    elif tag in PROPERTY_TAGS or tag == "transform":
        if tag != "transform" and len(elem):
            src.error(elem[0], f"element <{elem[0].tag}> cannot occur inside a property")
        name = elem.get("name")
        if name is not None and name.startswith("_"):
            src.error(elem, f"invalid name {name!r}: leading underscores are reserved")
        if tag == "transform":
            check_attrs(elem, src, {"name"}, ("name",))
            value, vtag, is_spectrum = _parse_transform(elem, src, ctx), "transform", False
        else:
            value, vtag, is_spectrum = parse_property(
                elem, src, lambda f: ctx.resolve(f, src), parent_kind == "emitter"
            )
        props.set(name, value, loc, tag=vtag, spectrum=is_spectrum)
    elif tag in TRANSFORM_OPS:
        src.error(elem, f"<{tag}> can only occur inside a <transform>")
    else:
        src.error(elem, f"unknown element <{tag}>")


def _add_id(ident: str, plugin, elem, src: _Source, ctx: _Context) -> None:
    if ident.startswith("_") or not ident:
        src.error(elem, f"invalid id {ident!r}: leading underscores are reserved")
    if ident in ctx.ids:
        src.error(elem, f"duplicate id '{ident}' (previous at {ctx.ids[ident][1]})")
    ctx.ids[ident] = (plugin, src.loc(elem))


def _parse_object(elem, src: _Source, ctx: _Context):
    check_attrs(elem, src, {"type", "id", "name"}, ("type",))
    ident = elem.get("id")
    if ident is not None and ident in ctx.ids:
        src.error(elem, f"duplicate id '{ident}' (previous at {ctx.ids[ident][1]})")
    props = Properties(elem.get("type"), id=ident, location=src.loc(elem), kind=elem.tag)
    _parse_children(elem, props, src, ctx, elem.tag, [0])
    plugin = create(elem.tag, elem.get("type"), props)
    if ident is not None:
        _add_id(ident, plugin, elem, src, ctx)
    return plugin


def _include(elem, props, src: _Source, ctx: _Context, parent_kind: str, counter) -> None:
    check_attrs(elem, src, {"filename"}, ("filename",))
    fname = elem.get("filename")
    path = ctx.resolve(fname, src)
    if not os.path.isfile(path):
        src.error(elem, f"included file {fname!r} not found (looked for {path})")
    real = os.path.realpath(path)
    display = os.path.normpath(os.path.join(os.path.dirname(src.display), fname))
    if any(real == r for r, _ in ctx.chain):
        chain = " -> ".join([d for _, d in ctx.chain] + [display])
        src.error(elem, f"include cycle: {chain}")
    root, sub = _read_document(path, display, src.loc(elem))
    ctx.chain.append((real, display))
    _substitute(root, sub, ctx)
    if root.tag == "scene":
        check_attrs(root, sub, {"version"})
        _check_version(root, sub, required=False)
        _parse_children(root, props, sub, ctx, parent_kind, counter)
    else:
        _parse_child(root, props, sub, ctx, parent_kind, counter)
    ctx.chain.pop()


# ---- Property values ----
def _parse_transform(elem, src: _Source, ctx: _Context) -> np.ndarray:
    m = np.eye(4)
    _check_text(elem.text, elem, src)
    for op in elem:
        _check_text(op.tail, elem, src)
        if isinstance(op, (etree._Comment, etree._ProcessingInstruction)):
            continue
        _substitute(op, src, ctx)
        if op.tag not in TRANSFORM_OPS:
            src.error(op, f"<transform> can only contain transform operations, got <{op.tag}>")
        if len(op):
            src.error(op[0], f"element <{op[0].tag}> cannot occur inside <{op.tag}>")
        try:
            m = transform_op(op, src).matrix @ m
        except SceneError:
            raise
        except ValueError as exc:  # non-finite numbers, math domain errors: name file and line
            src.error(op, f"invalid <{op.tag}>: {exc}")
    return m
