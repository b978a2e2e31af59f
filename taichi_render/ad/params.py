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
dielectric, thindielectric, plastic,   ``eta``, ``int_ior``, ``ext_ior``  (1,), > 0
roughplastic, roughdielectric
roughplastic                           ``alpha`` (1,) > 0 (Mitsuba's key: a float there)
conductor, roughconductor              ``eta.value``, ``k.value``  (3,), >= 0 (Mitsuba's keys:
                                       eta and k are textures there)
roughconductor, roughdielectric        ``alpha.value`` (1,) when alpha_u == alpha_v, else
                                       ``alpha_u.value`` and ``alpha_v.value``; > 0
mesh shapes (obj, ply, rectangle,      ``vertex_positions`` * (N*3,), ``vertex_normals``
cube)                                  (N*3,), ``vertex_texcoords`` (N*2,) (when the mesh has
                                       them), ``faces`` (F*3,) int32
area, constant emitters                ``radiance.value`` *
point emitter                          ``intensity.value`` *, ``position`` * (3,)
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
  drops the packed data (``render_state(scene).invalidate()``), so the next render re-packs the
  scene.
  Changing vertex positions therefore rebuilds the BVH: correct, but slower than a texture
  update;
- sensor ``to_world``/``x_fov`` only change the host sensor (the camera is set up per render).

Gradients: `SceneParameters.enable_grad` (or ``update(opt)``) marks keys; after a
``ti.ad.Tape`` block, `SceneParameters.grad` reads the path-replay gradient of texture values
(rgb ``value``, bitmap and envmap ``data``), of vertex positions and of point-light positions:
under ``prb`` the "interior" derivatives of diffuse surfaces (render/device/shape_derivatives.py,
as Mitsuba's ``prb``), under ``direct_projective``/``prb_projective`` also the boundary terms of
silhouettes and shadows (render/boundary/).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import current_arch
from ..render import layout as L
from ..render.state import render_state
from .gradient_scope import warn_non_diffuse
from .optimizers import Optimizer
from .param_values import validated_value

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


_values_versions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # scene -> update count


def values_version(scene) -> int:
    """How many `update` calls changed the scene's parameter values so far (through any
    `traverse` of it): equal counts mean equal values."""
    return _values_versions.get(scene, 0)


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
        self._staged[key] = (p, validated_value(p, value))

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
            is_optimizer = isinstance(values, Optimizer)
            items = values.items() if hasattr(values, "items") else values
            batch = {}
            for key, value in items:  # validate everything before changing anything
                p = self._lookup(key)
                batch[key] = (p, validated_value(p, value))
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
        if changed:  # every traverse of the scene shares the count (see values_version)
            _values_versions[self._scene] = values_version(self._scene) + 1
        self._refresh_packed([p for p, _ in changed])
        return {p.key for p, _ in changed}

    def flush(self) -> set[str]:
        """`update` if anything is staged (called by ``render(scene, params=...)``)."""
        return self.update() if self._staged else set()

    def _refresh_packed(self, changed: list[_Param]) -> None:
        state = render_state(self._scene)
        data = state.data
        if data is None or not changed:
            return
        rgb_rows: list[tuple[int, np.ndarray]] = []
        texel_writes: list[tuple[int, np.ndarray]] = []
        plastic_textures = None
        for p in changed:
            if p.refresh == _UPDATE_HOST:
                continue
            if p.refresh not in (_UPDATE_RGB, _UPDATE_BITMAP):
                state.invalidate()
                return
            row = data.texture_row(p.node)
            if row is None:
                continue  # the texture is not rendered (e.g. a BSDF no shape uses)
            if plastic_textures is None:
                plastic_textures = _plastic_textures(data)
            if id(p.node) in plastic_textures:  # plastic's sampling weight uses texture means
                state.invalidate()
                return
            if p.refresh == _UPDATE_RGB:
                rgb_rows.append((row, np.broadcast_to(np.asarray(p.node.value, np.float32), (3,))))
                continue
            tex = p.node.data
            tex = tex[..., None] if tex.ndim == 2 else tex
            h, w, c = tex.shape
            ti_row = data.np["tex_i"][row]
            if int(ti_row[L.TI_WIDTH]) != w or int(ti_row[L.TI_HEIGHT]) != h:
                state.invalidate()
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

        As in Mitsuba, the backward pass computes the gradients of marked keys only (marks add
        up, and are shared by every `traverse` of the scene; optimizers given to `update` and
        the torch bridge mark their keys): the others read as zeros. A scene with no marked
        key gets the gradients of every texture.
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        for key in keys:
            if not self._lookup(key).differentiable:
                raise ValueError(f"scene parameter {key!r} is not differentiable")
        for key in keys:
            if key not in self._grad_keys:
                self._grad_keys.append(key)
        self._note_gradients(keys)

    def _note_gradients(self, keys) -> None:
        """Tell the renderer that adjoint launches of the scene want these keys' gradients
        (enable_grad, and the torch bridge for the tensors it differentiates)."""
        shape_keys = [(key, self._lookup(key).node) for key in keys if key.endswith(".vertex_positions")]
        lights = [self._lookup(key).node for key in keys if self._is_light_position(key)]
        state = render_state(self._scene)
        new_shapes = [(key, shape) for key, shape in shape_keys if id(shape) not in state.gradient_shapes]
        state.note_gradient_keys(keys, self._gradient_textures(keys), [shape for _, shape in shape_keys], lights)
        warn_non_diffuse(new_shapes)  # after recording: a warning turned into an error leaves a whole mark

    def _is_light_position(self, key: str) -> bool:
        """Whether `key` names a point light's position."""
        p = self._lookup(key)
        return getattr(p.node, "type_name", None) == "point" and p.key.endswith(".position")

    def _gradient_textures(self, keys) -> list:
        """The texture plugins whose values these keys name (vertex and light positions name
        none)."""
        textures = []
        for key in keys:
            if key.endswith(".vertex_positions") or self._is_light_position(key):
                continue
            try:
                textures.append(self._gradient_texture(key))
            except NotImplementedError:  # no gradient at all for it (grad() says so)
                continue
        return textures

    def grad_enabled(self) -> list[str]:
        """Keys passed to `enable_grad` (or held by an optimizer given to `update`), in order."""
        return list(self._grad_keys)

    def _gradient_texture(self, key: str):
        """The texture whose values `key` names (rgb `value`, bitmap/envmap `data`); for vertex
        positions the mesh, for a point light's position the light."""
        p = self._lookup(key)
        if not p.differentiable:
            raise ValueError(f"scene parameter {key!r} is not differentiable")
        node = p.node
        is_envmap = getattr(node, "type_name", None) == "envmap" and p.key.endswith(".data")
        if is_envmap:
            render_state(self._scene).packed()  # packing creates the envmap's texture
            node = getattr(node, "texture", None)
        if p.key.endswith(".vertex_positions") or self._is_light_position(key):
            return node
        if not (is_envmap or p.refresh in (_UPDATE_RGB, _UPDATE_BITMAP)) or node is None:
            raise NotImplementedError(
                f"gradients of {key!r} are not available: taichi_render differentiates texture "
                "values (reflectances, emitted radiance, bitmap and envmap data), vertex positions and "
                "point-light positions"
            )
        return node

    def grad(self, key: str) -> np.ndarray:
        """Gradient of the loss of the last ``ti.ad.Tape`` with respect to ``params[key]``
        (same shape as ``params[key]``; zeros before any backward pass)."""
        node = self._gradient_texture(key)
        shape = self[key].shape
        data = render_state(self._scene).data
        if key.endswith(".vertex_positions"):
            if data is None or id(node) not in data.vertex_ranges:
                return np.zeros(shape, np.float32)
            return data.vertex_gradient(node).reshape(shape)
        if self._is_light_position(key):
            return np.zeros(shape, np.float32) if data is None else data.position_gradient(node).reshape(shape)
        if data is None or data.texture_row(node) is None:
            return np.zeros(shape, np.float32)
        return np.asarray(data.texture_gradient(node), np.float32).reshape(shape)

    def zero_grad(self) -> None:
        """Reset the accumulated gradients (a new ``ti.ad.Tape`` does this by itself)."""
        data = render_state(self._scene).data
        if data is not None:
            data.zero_gradients()

    # ---- interop ----
    def torch(self) -> dict:
        """``{key: torch.Tensor}`` float32 copies (``faces`` int32); ``requires_grad=True`` for
        differentiable keys; on CUDA when Taichi runs on CUDA."""
        import torch

        device = "cuda" if current_arch() == "cuda" and torch.cuda.is_available() else "cpu"
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


def _plastic_textures(data) -> set[int]:
    """ids of the textures a packed ``plastic``/``roughplastic`` BSDF reads (its sampling weight
    uses them)."""
    out: set[int] = set()

    def add(tex):
        if tex is None or id(tex) in out:
            return
        out.add(id(tex))
        if getattr(tex, "type_name", None) == "checkerboard":
            add(tex.color0)
            add(tex.color1)

    for bsdf in data.bsdfs:
        if bsdf.type_name in ("plastic", "roughplastic"):
            add(bsdf.diffuse_reflectance)
            add(bsdf.specular_reflectance)
    return out


from .traversal import MITSUBA_CLASS_NAMES, traverse  # noqa: F401  (re-exported)
