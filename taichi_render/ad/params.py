"""Scene parameters: `traverse(scene) -> SceneParameters`, Mitsuba 3's ``mi.traverse``.

A `SceneParameters` object is a mapping from Mitsuba-style keys to the values of the scene's
plugins::

    params = tr.traverse(scene)
    print(params)                                    # '*' marks differentiable keys
    params["red.reflectance.value"] = [0.1, 0.9, 0.1]
    params.update()                                  # push into the scene (render() also does)
    image = tr.render(scene, params=params)

Key naming (Mitsuba 3's ``SceneTraversal``):

- Every plugin with an explicit id (top-level keys of a scene dict, XML ``id=``; see
  ``Scene.ids``) is a root named by its id. A BSDF referenced by id from several shapes is
  therefore listed once, under its id (``red.reflectance.value``), never under the shapes.
- A child without an id is named ``<parent name>.<property name>``, with Mitsuba's property
  names: ``bsdf``, ``emitter``, ``brdf_0``/``brdf_1`` (twosided; a single nested BSDF serves
  both sides and is listed once, as ``brdf_0``), ``reflectance``, ``diffuse_reflectance``,
  ``specular_reflectance``, ``specular_transmittance``, ``radiance``, ``intensity``,
  ``color0``/``color1``. Hence ``light.emitter.radiance.value`` and
  ``textured_plane.bsdf.brdf_0.reflectance.data``.
- Top-level plugins without an id (XML shapes, sensors, emitters without ``id=``) are named
  like Mitsuba names them: the plugin's C++ class name (``PerspectiveCamera``, ``Rectangle``,
  ``OBJMesh``, ``SmoothDiffuse``, ``ConstantBackgroundEmitter``, ...; `MITSUBA_CLASS_NAMES`),
  made unique with ``_1``, ``_2``, ... in traversal order (sensors, then shapes, then
  emitters, each in declaration order). Any generated name that collides with an earlier name
  gets the same suffix.

Parameters (``*``: differentiable):

=====================================  ==================  ===================================
plugin                                 key (after prefix)  value
=====================================  ==================  ===================================
rgb texture                            ``value``         * (3,)
bitmap texture                         ``data``          * (H, W, C); a new H', W' is accepted
checkerboard                           ``color0.value``, ``color1.value`` (their rgb textures) *
dielectric, thindielectric, plastic    ``eta``, ``int_ior``, ``ext_ior``  (1,), > 0
conductor, roughconductor              ``eta.value``, ``k.value``  (3,), >= 0 (Mitsuba's keys:
                                       eta and k are textures there)
roughconductor                         ``alpha.value`` (1,) when alpha_u == alpha_v, else
                                       ``alpha_u.value`` and ``alpha_v.value``; > 0
mesh shapes (obj, ply, rectangle,      ``vertex_positions`` * (N*3,), ``vertex_normals``
cube)                                  (N*3,), ``vertex_texcoords`` (N*2,) (when the mesh has
                                       them), ``faces`` (F*3,) int32
area, constant emitters                ``radiance.value`` *
point emitter                          ``intensity.value`` *, ``position`` (3,)
envmap                                 ``data`` * (H, W, 3) >= 0, ``scale`` (1,) >= 0
perspective sensor                     ``to_world`` (4, 4) (no scale), ``x_fov`` (1,) degrees
=====================================  ==================  ===================================

``eta`` of a dielectric/plastic is ``int_ior / ext_ior`` (Mitsuba exposes only ``eta``; we also
expose the two indices). Writing ``eta`` sets ``int_ior = eta * ext_ior``; it is applied after
``int_ior``/``ext_ior`` writes of the same `update`.

Writes are staged: ``params[key] = value`` validates the value (shape, dtype, finiteness, and the
plugin's own constraints) and keeps it; reading the key returns the staged value. `update` pushes
the staged values into the host plugins and into the packed scene data:

- rgb texture values and same-resolution bitmap data are written in place into the packed
  arrays (``tex_rgb``, ``texels``) and uploaded; the BVH and everything else stay;
- everything else (a new bitmap resolution, vertex data, IORs, envmap data, textures of a
  ``plastic`` BSDF, whose sampling weight depends on them, ...) updates the host plugin and
  drops the packed data (``scene._render_data = None``), so the next render re-packs the scene.
  Changing vertex positions therefore rebuilds the BVH: correct, but slower than a texture
  update;
- sensor ``to_world``/``x_fov`` only change the host sensor (the camera is set up per render).

Gradients: `SceneParameters.enable_grad` (or ``update(opt)``) marks keys; after a
``ti.ad.Tape`` block, `SceneParameters.grad` reads the path-replay gradient of texture values
(rgb ``value``, bitmap and envmap ``data``). Vertex positions are listed as differentiable (as
in Mitsuba): their gradients are "interior" shape derivatives of diffuse surfaces (no
silhouette or shadow-boundary terms yet; see render/shape_derivatives.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Mitsuba 3 class names, used to name top-level plugins that have no id (as Mitsuba's
#: ``Scene::traverse`` does); unknown types fall back to their type name.
MITSUBA_CLASS_NAMES = {
    ("shape", "obj"): "OBJMesh",
    ("shape", "ply"): "PLYMesh",
    ("shape", "rectangle"): "Rectangle",
    ("shape", "cube"): "Cube",
    ("shape", "sphere"): "Sphere",
    ("shape", "disk"): "Disk",
    ("bsdf", "diffuse"): "SmoothDiffuse",
    ("bsdf", "twosided"): "TwoSidedBRDF",
    ("bsdf", "dielectric"): "SmoothDielectric",
    ("bsdf", "thindielectric"): "ThinDielectric",
    ("bsdf", "conductor"): "SmoothConductor",
    ("bsdf", "roughconductor"): "RoughConductor",
    ("bsdf", "plastic"): "SmoothPlastic",
    ("texture", "rgb"): "RGBReflectanceSpectrum",
    ("texture", "bitmap"): "BitmapTexture",
    ("texture", "checkerboard"): "Checkerboard",
    ("emitter", "area"): "AreaLight",
    ("emitter", "point"): "PointLight",
    ("emitter", "constant"): "ConstantBackgroundEmitter",
    ("emitter", "envmap"): "EnvironmentMapEmitter",
    ("sensor", "perspective"): "PerspectiveCamera",
    ("integrator", "path"): "PathIntegrator",
    ("integrator", "prb"): "PRBIntegrator",
    ("integrator", "direct"): "DirectIntegrator",
}

_SCALE_TOLERANCE = 1e-3  # as sensors/perspective.py: Mitsuba's has_scale() tolerance

# how `update` refreshes the packed scene data after a key changed
_UPDATE_RGB = "rgb"  # rewrite one tex_rgb row
_UPDATE_BITMAP = "bitmap"  # rewrite a texel slice (same resolution) or re-pack
_UPDATE_HOST = "host"  # nothing packed depends on it (sensor): host plugin only
_UPDATE_REPACK = "repack"  # drop the packed data


@dataclass
class _Param:
    """One parameter: how to read, validate and write it."""

    key: str
    node: Any  # the plugin holding the value
    get: Callable[[], np.ndarray]  # current host value, in the key's (Mitsuba) shape
    set: Callable[[np.ndarray], None]  # write a validated value into the host plugin
    differentiable: bool = False
    dtype: type = np.float32
    flat: bool = False  # any shape with the same number of elements is accepted
    resizable: bool = False  # bitmap data: (H', W', same C) accepted
    check: Callable[[np.ndarray], str | None] | None = None  # extra constraint -> message
    refresh: str = _UPDATE_REPACK
    order: int = 0  # application order within one update (eta after int_ior/ext_ior)


class SceneParameters(Mapping):
    """Mapping from Mitsuba-style keys to scene values; see the module docstring.

    Reading returns a numpy copy (float32; ``faces`` int32). Writing validates and stages;
    `update` (or `flush`, which `render(scene, params=...)` calls) pushes the staged values.
    """

    def __init__(self, scene, params: dict[str, _Param]):
        self._scene = scene
        self._params: dict[str, _Param] = dict(params)
        self._staged: dict[str, tuple[_Param, np.ndarray]] = {}
        self._grad_keys: list[str] = []

    # ---- mapping protocol ----
    def __getitem__(self, key: str) -> np.ndarray:
        p = self._lookup(key)
        if key in self._staged:
            return self._staged[key][1].copy()
        return np.array(p.get(), dtype=p.dtype, copy=True)

    def __setitem__(self, key: str, value) -> None:
        p = self._lookup(key)
        self._staged[key] = (p, _validate(p, value))

    def __delitem__(self, key: str) -> None:
        """Remove a key from this view (the scene is unchanged)."""
        self._lookup(key)
        del self._params[key]

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self):
        return iter(self._params)

    def __contains__(self, key) -> bool:
        return key in self._params

    def keys(self):
        return self._params.keys()

    # Mapping.__eq__ would compare numpy arrays element-wise; identity is what makes sense here
    def __eq__(self, other) -> bool:
        return self is other

    __hash__ = object.__hash__

    def _lookup(self, key) -> _Param:
        try:
            return self._params[key]
        except (KeyError, TypeError):
            raise KeyError(f"unknown scene parameter {key!r}") from None

    # ---- queries ----
    def is_differentiable(self, key: str) -> bool:
        return self._lookup(key).differentiable

    def node(self, key: str):
        """The plugin that holds ``key``."""
        return self._lookup(key).node

    @property
    def scene(self):
        return self._scene

    def staged(self) -> set[str]:
        """Keys written since the last `update`."""
        return set(self._staged)

    # ---- updates ----
    def update(self, values=None) -> set[str]:
        """Push staged values into the scene; returns the set of keys whose value changed.

        Args:
            values: optional mapping (or an object with ``items()``, e.g. an optimizer) of new
                values, validated and staged first; if any is invalid, nothing is staged or
                changed.

        Keys whose staged value equals the current one are not reported and cause no work.
        """
        if values is not None:
            from .optimizers import Optimizer

            is_optimizer = isinstance(values, Optimizer)
            items = values.items() if hasattr(values, "items") else values
            batch = {}
            for key, value in items:  # validate everything before changing anything
                p = self._lookup(key)
                batch[key] = (p, _validate(p, value))
                if is_optimizer:
                    self._gradient_texture(key)  # keys without gradients fail here
            if is_optimizer:
                self.enable_grad(list(batch))
                values.params = self
            self._staged.update(batch)
        if not self._staged:
            return set()
        staged, self._staged = self._staged, {}
        changed = []
        for key, (p, value) in staged.items():
            current = np.asarray(p.get())
            if current.shape == value.shape and np.array_equal(current.astype(p.dtype), value):
                continue
            changed.append((p, value))
        changed.sort(key=lambda pv: pv[0].order)
        for p, value in changed:
            p.set(value.copy())
        self._refresh_packed([p for p, _ in changed])
        return {p.key for p, _ in changed}

    def flush(self) -> set[str]:
        """`update` if anything is staged (called by ``render(scene, params=...)``)."""
        return self.update() if self._staged else set()

    def _refresh_packed(self, changed: list[_Param]) -> None:
        data = getattr(self._scene, "_render_data", None)
        if data is None or not changed:
            return
        from ..render import layout as L

        rgb_rows: list[tuple[int, np.ndarray]] = []
        texel_writes: list[tuple[int, np.ndarray]] = []
        plastic_textures = None
        for p in changed:
            if p.refresh == _UPDATE_HOST:
                continue
            if p.refresh not in (_UPDATE_RGB, _UPDATE_BITMAP):
                self._scene._render_data = None
                return
            row = data._tex_index.get(id(p.node))
            if row is None:
                continue  # the texture is not rendered (e.g. a BSDF no shape uses)
            if plastic_textures is None:
                plastic_textures = _plastic_textures(data)
            if id(p.node) in plastic_textures:  # plastic's sampling weight uses texture means
                self._scene._render_data = None
                return
            if p.refresh == _UPDATE_RGB:
                rgb_rows.append((row, np.broadcast_to(np.asarray(p.node.value, np.float32), (3,))))
                continue
            tex = p.node.data
            tex = tex[..., None] if tex.ndim == 2 else tex
            h, w, c = tex.shape
            ti_row = data.np["tex_i"][row]
            if int(ti_row[L.TI_WIDTH]) != w or int(ti_row[L.TI_HEIGHT]) != h:
                self._scene._render_data = None
                return
            texels = np.repeat(tex[..., :1], 3, axis=2) if c == 1 else tex[..., :3]
            texel_writes.append((int(ti_row[L.TI_OFFSET]), texels.reshape(-1, 3)))
        if rgb_rows:
            for row, value in rgb_rows:
                data.np["tex_rgb"][row] = value
            data.upload_one("tex_rgb")
        if texel_writes:
            for offset, texels in texel_writes:
                data.np["texels"][offset : offset + len(texels)] = texels
            data.upload_one("texels")

    # ---- selection ----
    def keep(self, keys) -> None:
        """Keep only some keys (in place), as Mitsuba's ``SceneParameters.keep``.

        Args:
            keys: ``None`` (keep all); a regex string, kept keys being those it matches at their
                start (``re.match``, Mitsuba's rule: ``"red"`` keeps ``red.reflectance.value``;
                use ``"...$"`` to anchor the end); or a list whose entries are exact keys or, if
                not a key, regexes as above. A list entry that neither is a key nor matches one
                raises `KeyError` naming it (nothing is removed then); an invalid regex raises
                `ValueError`.
        """
        if keys is None:
            return
        if isinstance(keys, str):
            entries, strict = [keys], False
        elif isinstance(keys, Iterable):
            entries, strict = list(keys), True
        else:
            raise TypeError(f"keep() expects a regex string or a list of keys, got {keys!r}")
        kept: set[str] = set()
        for entry in entries:
            if not isinstance(entry, str):
                raise TypeError(f"keep(): keys must be strings, got {entry!r}")
            if entry in self._params:
                kept.add(entry)
                continue
            try:
                pattern = re.compile(entry)
            except re.error as exc:
                if strict:
                    raise KeyError(f"unknown scene parameter {entry!r}") from None
                raise ValueError(f"keep(): invalid regex {entry!r}: {exc}") from None
            matches = {k for k in self._params if pattern.match(k)}
            if strict and not matches:
                raise KeyError(f"unknown scene parameter {entry!r} (and no key matches it)")
            kept |= matches
        self._params = {k: p for k, p in self._params.items() if k in kept}

    # ---- gradients ----
    def enable_grad(self, keys) -> None:
        """Mark keys (a key or a list of keys) for reverse-mode differentiation.

        Raises `KeyError` for an unknown key and `ValueError` for a non-differentiable one
        (nothing is recorded then). Renders inside a ``ti.ad.Tape`` then accumulate the
        gradients of these keys, read with :meth:`grad`.
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        for key in keys:
            if not self._lookup(key).differentiable:
                raise ValueError(f"scene parameter {key!r} is not differentiable")
        for key in keys:
            if key not in self._grad_keys:
                self._grad_keys.append(key)

    def grad_enabled(self) -> list[str]:
        """Keys passed to `enable_grad` (or held by an optimizer given to `update`), in order."""
        return list(self._grad_keys)

    def _gradient_texture(self, key: str):
        """The texture whose values `key` names (rgb `value`, bitmap/envmap `data`)."""
        p = self._lookup(key)
        if not p.differentiable:
            raise ValueError(f"scene parameter {key!r} is not differentiable")
        node = p.node
        is_envmap = getattr(node, "type_name", None) == "envmap" and p.key.endswith(".data")
        if is_envmap:
            from ..render.renderer import scene_data

            scene_data(self._scene)  # packing creates the envmap's texture
            node = getattr(node, "texture", None)
        if p.key.endswith(".vertex_positions"):
            return node
        if not (is_envmap or p.refresh in (_UPDATE_RGB, _UPDATE_BITMAP)) or node is None:
            raise NotImplementedError(
                f"gradients of {key!r} are not available: taichi_render differentiates texture "
                "values (reflectances, emitted radiance, bitmap and envmap data) and vertex positions"
            )
        return node

    def grad(self, key: str) -> np.ndarray:
        """Gradient of the loss of the last ``ti.ad.Tape`` with respect to ``params[key]``
        (same shape as ``params[key]``; zeros before any backward pass)."""
        node = self._gradient_texture(key)
        shape = self[key].shape
        data = getattr(self._scene, "_render_data", None)
        if key.endswith(".vertex_positions"):
            if data is None or id(node) not in data.vertex_ranges:
                return np.zeros(shape, np.float32)
            return data.vertex_gradient(node).reshape(shape)
        if data is None or id(node) not in data._tex_index:
            return np.zeros(shape, np.float32)
        return np.asarray(data.texture_gradient(node), np.float32).reshape(shape)

    def zero_grad(self) -> None:
        """Reset the accumulated gradients (a new ``ti.ad.Tape`` does this by itself)."""
        data = getattr(self._scene, "_render_data", None)
        if data is not None:
            data.zero_gradients()

    # ---- interop ----
    def torch(self) -> dict:
        """``{key: torch.Tensor}`` float32 copies (``faces`` int32); ``requires_grad=True`` for
        differentiable keys; on CUDA when Taichi runs on CUDA."""
        import torch

        from ..backend import _state

        device = "cuda" if _state.get("arch") == "cuda" and torch.cuda.is_available() else "cpu"
        out = {}
        for key, p in self._params.items():
            t = torch.from_numpy(self[key]).to(device)
            if p.differentiable:
                t.requires_grad_(True)
            out[key] = t
        return out

    # ---- display ----
    def __repr__(self) -> str:
        rows = []
        for key, p in self._params.items():
            value = self[key]
            mark = "*" if p.differentiable else " "
            parent = f"{getattr(p.node, 'kind', '?')} {getattr(p.node, 'type_name', '?')!r}"
            rows.append((mark, key, str(value.dtype), str(tuple(value.shape)), parent))
        width = max([len(r[1]) for r in rows] + [4])
        line = "  " + "-" * (width + 48)
        out = [
            "SceneParameters[",
            line,
            f"    {'Name':{width}}  {'Type':8} {'Shape':15} Parent",
            line,
        ]
        for mark, key, dtype, shape, parent in rows:
            out.append(f"  {mark} {key:{width}}  {dtype:8} {shape:15} {parent}")
        out.append(line)
        out.append("  (* differentiable)")
        out.append("]")
        return "\n".join(out)

    __str__ = __repr__


# ---------------------------------------------------------------------------------------------
# value conversion and validation


def _to_numpy(key: str, value) -> np.ndarray:
    """Any accepted input -> a numpy array (any real dtype); `TypeError` for the rest."""
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise TypeError(f"scene parameter {key!r}: expected numbers, got {type(value).__name__}")
    if type(value).__module__.split(".")[0] == "torch":
        import torch

        if isinstance(value, torch.Tensor):
            t = value.detach().cpu()
            if t.is_complex() or t.dtype == torch.bool:
                raise TypeError(f"scene parameter {key!r}: expected real numbers, got {t.dtype}")
            if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
                t = t.to(torch.float32)  # float16 / bfloat16
            return t.numpy()
    if hasattr(value, "matrix") and type(value).__name__ == "ScalarTransform4f":
        value = value.matrix
    elif not isinstance(value, np.ndarray) and hasattr(value, "to_numpy"):  # taichi fields
        value = value.to_numpy()
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"scene parameter {key!r}: expected numbers, got a bool")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"scene parameter {key!r}: cannot convert the value to an array: {exc}"
        ) from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"scene parameter {key!r}: expected real numbers, got an array of dtype {arr.dtype}"
        )
    return arr


def _validate(p: _Param, value) -> np.ndarray:
    """A validated, owned copy of ``value`` in the key's shape and dtype."""
    key = p.key
    arr = _to_numpy(key, value)
    current = np.asarray(p.get())
    expected = current.shape
    if p.resizable:
        if arr.ndim == 2 and expected[2] == 1:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[2] != expected[2] or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError(
                f"scene parameter {key!r}: expected shape (H, W, {expected[2]}), got {arr.shape}"
            )
    elif arr.shape != expected:
        if (p.flat or current.size == 1) and arr.size == current.size:
            arr = arr.reshape(expected)
        else:
            raise ValueError(f"scene parameter {key!r}: expected shape {expected}, got {arr.shape}")
    if p.dtype == np.int32:
        if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
            raise ValueError(f"scene parameter {key!r}: expected integer values")
        out = arr.astype(np.int64)
        if np.any(out < np.iinfo(np.int32).min) or np.any(out > np.iinfo(np.int32).max):
            raise ValueError(f"scene parameter {key!r}: values out of the int32 range")
        out = out.astype(np.int32)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow -> inf, reported below
            out = np.array(arr, dtype=np.float32, copy=True)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                f"scene parameter {key!r}: the value has NaN or infinite entries "
                "(or entries beyond the float32 range)"
            )
    if p.check is not None:
        message = p.check(out)
        if message:
            raise ValueError(f"scene parameter {key!r}: {message}")
    return np.ascontiguousarray(out)


def _positive(a: np.ndarray):
    return None if np.all(a > 0) else "must be > 0"


def _nonnegative(a: np.ndarray):
    return None if np.all(a >= 0) else "must be >= 0"


# ---------------------------------------------------------------------------------------------
# traversal


def _class_name(plugin) -> str:
    kind, type_name = getattr(plugin, "kind", None), getattr(plugin, "type_name", None)
    return MITSUBA_CLASS_NAMES.get((kind, type_name), str(type_name or type(plugin).__name__))


class _Traversal:
    def __init__(self, scene):
        self.params: dict[str, _Param] = {}
        self.visited: set[int] = set()
        self.prefixes: set[str] = set()
        self.named: set[int] = set()  # plugins named by their id (roots)

    def unique(self, name: str) -> str:
        """Mitsuba's rule: ``name``, else ``name_1``, ``name_2``, ..."""
        base, n = name, 1
        while name in self.prefixes:
            name = f"{base}_{n}"
            n += 1
        self.prefixes.add(name)
        return name

    def visit(self, node, name: str) -> None:
        if node is None or id(node) in self.visited:
            return
        self.visited.add(id(node))
        name = self.unique(name)
        kind = getattr(node, "kind", None)
        handler = _HANDLERS.get(kind)
        children = handler(self, node, name) if handler is not None else []
        for prop, child in children:
            if child is None or id(child) in self.named:
                continue  # children with an id are roots, named by their id
            self.visit(child, f"{name}.{prop}")

    def add(self, name: str, prop: str, node, get, set, **kw) -> None:
        key = f"{name}.{prop}"
        self.params[key] = _Param(key=key, node=node, get=get, set=set, **kw)


def _float1(getter):
    return lambda: np.array([getter()], dtype=np.float32)


# ---- textures ----
def _texture(t: _Traversal, tex, name: str):
    kind = tex.type_name
    if kind == "rgb" or (kind not in ("bitmap", "checkerboard") and hasattr(tex, "value")):

        def set_value(v, tex=tex):
            tex.value = v.astype(np.float32)

        t.add(
            name,
            "value",
            tex,
            lambda: np.broadcast_to(np.asarray(tex.value, np.float32), (3,)),
            set_value,
            differentiable=True,
            refresh=_UPDATE_RGB,
        )
        return []
    if kind == "bitmap":

        def set_data(v, tex=tex):
            tex.data = np.ascontiguousarray(v, dtype=np.float32)

        t.add(
            name,
            "data",
            tex,
            lambda: np.asarray(tex.data, np.float32),
            set_data,
            differentiable=True,
            resizable=True,
            refresh=_UPDATE_BITMAP,
        )
        return []
    if kind == "checkerboard":
        return [("color0", tex.color0), ("color1", tex.color1)]
    return []


# ---- bsdfs ----
def _ior_params(t: _Traversal, bsdf, name: str) -> None:
    def set_ior(attr):
        def setter(v):
            setattr(bsdf, attr, float(v[0]))
            bsdf.eta = bsdf.int_ior / bsdf.ext_ior

        return setter

    def set_eta(v):
        bsdf.int_ior = float(v[0]) * float(bsdf.ext_ior)
        bsdf.eta = float(v[0])

    t.add(
        name,
        "eta",
        bsdf,
        _float1(lambda: float(bsdf.int_ior) / float(bsdf.ext_ior)),
        set_eta,
        check=_positive,
        order=1,
    )
    t.add(name, "int_ior", bsdf, _float1(lambda: bsdf.int_ior), set_ior("int_ior"), check=_positive)
    t.add(name, "ext_ior", bsdf, _float1(lambda: bsdf.ext_ior), set_ior("ext_ior"), check=_positive)


def _conductor_params(t: _Traversal, bsdf, name: str) -> None:
    def set_color(attr):
        def setter(v):
            setattr(bsdf, attr, v.astype(np.float32))
            bsdf.perfect_mirror = bool(np.all(bsdf.eta == 0.0) and np.all(bsdf.k == 1.0))

        return setter

    for attr in ("eta", "k"):
        t.add(
            name,
            f"{attr}.value",
            bsdf,
            lambda attr=attr: np.broadcast_to(np.asarray(getattr(bsdf, attr), np.float32), (3,)),
            set_color(attr),
            check=_nonnegative,
        )


def _roughness_params(t: _Traversal, bsdf, name: str) -> None:
    if float(bsdf.alpha_u) == float(bsdf.alpha_v):

        def set_alpha(v):
            bsdf.alpha_u = bsdf.alpha_v = float(v[0])

        t.add(name, "alpha.value", bsdf, _float1(lambda: bsdf.alpha_u), set_alpha, check=_positive)
        return
    for attr in ("alpha_u", "alpha_v"):
        t.add(
            name,
            f"{attr}.value",
            bsdf,
            _float1(lambda attr=attr: getattr(bsdf, attr)),
            lambda v, attr=attr: setattr(bsdf, attr, float(v[0])),
            check=_positive,
        )


def _bsdf(t: _Traversal, bsdf, name: str):
    kind = bsdf.type_name
    if kind == "diffuse":
        return [("reflectance", bsdf.reflectance)]
    if kind == "twosided":
        return [("brdf_0", bsdf.brdf[0]), ("brdf_1", bsdf.brdf[1])]
    if kind in ("dielectric", "thindielectric"):
        _ior_params(t, bsdf, name)
        return [
            ("specular_reflectance", bsdf.specular_reflectance),
            ("specular_transmittance", bsdf.specular_transmittance),
        ]
    if kind == "plastic":
        _ior_params(t, bsdf, name)
        return [
            ("diffuse_reflectance", bsdf.diffuse_reflectance),
            ("specular_reflectance", bsdf.specular_reflectance),
        ]
    if kind in ("conductor", "roughconductor"):
        _conductor_params(t, bsdf, name)
        if kind == "roughconductor":
            _roughness_params(t, bsdf, name)
        return [("specular_reflectance", bsdf.specular_reflectance)]
    return []


# ---- shapes ----
def _shape(t: _Traversal, shape, name: str):
    positions = getattr(shape, "vertex_positions", None)
    if positions is not None and getattr(shape, "faces", None) is not None:

        def flat(attr, width):
            return lambda: np.asarray(getattr(shape, attr), np.float32).reshape(-1)

        def set_rows(attr, width):
            def setter(v):
                setattr(shape, attr, np.ascontiguousarray(v.reshape(-1, width), dtype=np.float32))

            return setter

        def check_faces(v):
            n = len(np.asarray(shape.vertex_positions).reshape(-1, 3))
            return None if np.all((v >= 0) & (v < n)) else f"vertex indices must be in [0, {n})"

        def set_faces(v):
            shape.faces = np.ascontiguousarray(v.reshape(-1, 3), dtype=np.int32)

        t.add(
            name,
            "faces",
            shape,
            lambda: np.asarray(shape.faces, np.int32).reshape(-1),
            set_faces,
            dtype=np.int32,
            flat=True,
            check=check_faces,
        )
        t.add(
            name,
            "vertex_positions",
            shape,
            flat("vertex_positions", 3),
            set_rows("vertex_positions", 3),
            differentiable=True,
            flat=True,
        )
        if getattr(shape, "vertex_normals", None) is not None:
            t.add(
                name,
                "vertex_normals",
                shape,
                flat("vertex_normals", 3),
                set_rows("vertex_normals", 3),
                flat=True,
            )
        if getattr(shape, "vertex_texcoords", None) is not None:
            t.add(
                name,
                "vertex_texcoords",
                shape,
                flat("vertex_texcoords", 2),
                set_rows("vertex_texcoords", 2),
                flat=True,
            )
    return [("bsdf", getattr(shape, "bsdf", None)), ("emitter", getattr(shape, "emitter", None))]


# ---- emitters ----
def _emitter(t: _Traversal, emitter, name: str):
    kind = emitter.type_name
    if kind in ("area", "constant"):
        return [("radiance", emitter.radiance)]
    if kind == "point":

        def set_position(v):
            emitter.position = v.astype(np.float64)
            emitter.to_world = np.array(emitter.to_world, dtype=np.float64)
            emitter.to_world[:3, 3] = emitter.position

        t.add(
            name,
            "position",
            emitter,
            lambda: np.asarray(emitter.position, np.float32),
            set_position,
        )
        return [("intensity", emitter.intensity)]
    if kind == "envmap":

        def set_data(v):
            emitter.data = np.ascontiguousarray(v, dtype=np.float32)
            tex = getattr(emitter, "texture", None)  # the bitmap view pack_envmap caches
            if tex is not None and hasattr(tex, "data"):
                tex.data = emitter.data

        def set_scale(v):
            emitter.scale = float(v[0])

        t.add(
            name,
            "data",
            emitter,
            lambda: np.asarray(emitter.data, np.float32),
            set_data,
            differentiable=True,
            check=_nonnegative,
        )
        t.add(name, "scale", emitter, _float1(lambda: emitter.scale), set_scale, check=_nonnegative)
    return []


# ---- sensors ----
def _check_camera_to_world(m: np.ndarray):
    linear = m[:3, :3].astype(np.float64)
    if np.any(np.abs(np.sum(linear * linear, axis=0) - 1.0) > _SCALE_TOLERANCE):
        return "a camera 'to_world' must not contain scale factors"
    return None


def _check_fov(v: np.ndarray):
    return None if 0.0 < float(v[0]) < 180.0 else "the field of view must be in (0, 180) degrees"


def _sensor(t: _Traversal, sensor, name: str):
    if sensor.type_name == "perspective":

        def set_to_world(v):
            sensor.to_world = v.astype(np.float64)

        def set_fov(v):
            sensor.fov_x = sensor.fov = float(v[0])
            sensor.fov_axis = "x"

        t.add(
            name,
            "to_world",
            sensor,
            lambda: np.asarray(sensor.to_world, np.float32),
            set_to_world,
            check=_check_camera_to_world,
            refresh=_UPDATE_HOST,
        )
        t.add(
            name,
            "x_fov",
            sensor,
            _float1(lambda: sensor.fov_x),
            set_fov,
            check=_check_fov,
            refresh=_UPDATE_HOST,
        )
    return []


_HANDLERS = {
    "texture": _texture,
    "bsdf": _bsdf,
    "shape": _shape,
    "emitter": _emitter,
    "sensor": _sensor,
}


def _plastic_textures(data) -> set[int]:
    """ids of the textures a packed ``plastic`` BSDF reads (its sampling weight uses them)."""
    out: set[int] = set()

    def add(tex):
        if tex is None or id(tex) in out:
            return
        out.add(id(tex))
        if getattr(tex, "type_name", None) == "checkerboard":
            add(tex.color0)
            add(tex.color1)

    for bsdf in data.bsdfs:
        if bsdf.type_name == "plastic":
            add(bsdf.diffuse_reflectance)
            add(bsdf.specular_reflectance)
    return out


def traverse(scene) -> SceneParameters:
    """The parameters of a loaded `Scene` (Mitsuba's ``mi.traverse``); see the module
    docstring for the key names and what each update costs."""
    from ..scene.scene import Scene

    if not isinstance(scene, Scene):
        raise TypeError(
            f"traverse() expects a Scene (from tr.load_dict / tr.load_file), got "
            f"{type(scene).__name__}"
        )
    t = _Traversal(scene)
    roots = [(ident, plugin) for ident, plugin in scene.ids.items() if plugin is not None]
    t.named = {id(plugin) for _, plugin in roots}
    for ident, plugin in roots:
        t.visit(plugin, ident)
    unnamed = [
        *scene.sensors(),
        *scene.shapes(),
        *[e for e in scene.emitters() if e.type_name != "area"],
    ]
    for plugin in unnamed:
        if id(plugin) not in t.visited:
            t.visit(plugin, _class_name(plugin))
    return SceneParameters(scene, t.params)
