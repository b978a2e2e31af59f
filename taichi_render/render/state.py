"""What the renderer keeps for a scene between launches: `RenderState`.

One `RenderState` per scene, from `render_state(scene)`:

- `data`: the packed device arrays (`SceneData`), built by `packed()` on first use and dropped
  by `invalidate()` when a parameter change needs a re-pack (``SceneParameters.update``);
- which gradients adjoint launches compute, recorded by `note_gradient_keys` (the keys given to
  ``params.enable_grad`` and the tensors the torch bridge differentiates): `vertex_gradients`,
  `gradient_shapes`, `gradient_lights`, `gradient_textures`, read through `texture_mask`,
  `wants_shape_terms`, `moving_vertices` and `lights_move`;
- `default_parameters`: the ``traverse(scene)`` that renders given no parameters use (the torch
  bridge's ``trt.render(scene, **tensors)``), made on first use.

A scene keeps its state in its public ``render_state`` attribute (None until the first render),
so the state goes with the scene. `ad/` and `torch/` use this interface, not SceneData's
internals.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

import numpy as np

from ..backend import ensure_init
from . import layout as L
from .packing.scene_data import SceneData


class RenderState:
    """The renderer's state of one scene (see the module docstring)."""

    def __init__(self, scene):
        self._scene = weakref.ref(scene)
        self.data: SceneData | None = None
        self.vertex_gradients = False  # a vertex-position key had gradients enabled
        self.gradient_shapes: dict[int, object] = {}  # id -> mesh whose vertex gradients are wanted
        self.gradient_lights: dict[int, object] = {}  # id -> point light whose position gradient is wanted
        self.gradient_textures: dict[int, object] = {}  # id -> texture whose gradients are wanted
        self.default_parameters = None  # SceneParameters of renders given none (torch bridge)

    def packed(self) -> SceneData:
        """The packed device data of the scene, built on first use (and after `invalidate`)."""
        if self.data is None:
            ensure_init()
            self.data = SceneData(self._scene())
        return self.data

    def invalidate(self) -> None:
        """Drop the packed data: the next render packs the scene again (new BVH)."""
        self.data = None

    def note_gradient_keys(self, keys: Iterable[str], textures: Iterable = (), shapes: Iterable = (),
                           lights: Iterable = ()) -> None:
        """Record that gradients of these parameter keys are wanted (they add up over calls): once a
        vertex-position key is among them, adjoint launches compute vertex-position terms, and the
        boundary terms of the projective integrators sample the edges of `shapes` (the meshes
        those keys name) only; `lights` are the point lights whose positions the keys name (their
        terms are computed with the vertex-position ones, and their shadows' boundary terms
        sample every edge); `textures` are the texture plugins the other keys name, and adjoint
        launches compute the gradients of those textures only (all of them while none was
        recorded)."""
        if any(key.endswith(".vertex_positions") for key in keys):
            self.vertex_gradients = True
        for shape in shapes:
            self.gradient_shapes[id(shape)] = shape
        for light in lights:
            self.gradient_lights[id(light)] = light
        for tex in textures:
            self.gradient_textures[id(tex)] = tex

    def texture_mask(self) -> int:
        """scene_i[SC_GRAD_TEXTURES] for an adjoint launch: bit t for texture row t whose
        gradient is wanted (bit 31 for rows 31 and up, a checkerboard's row when one of its
        colours is wanted), -1 (every texture) while no texture was recorded."""
        if not self.gradient_textures:
            return -1
        data = self.packed()
        rows = {data.texture_row(tex) for tex in self.gradient_textures.values()} - {None}
        tex_i = data.np["tex_i"]
        for row in range(len(tex_i) - 1, -1, -1):  # children come after their checkerboard
            children = {tex_i[row, L.TI_CHILD0], tex_i[row, L.TI_CHILD1]}
            if tex_i[row, L.TI_TYPE] == L.TEX_CHECKERBOARD and rows & children:
                rows.add(row)
        mask = 0
        for row in rows:
            mask |= 1 << min(row, 31)
        return int(np.array(mask & 0xFFFFFFFF, np.uint32).view(np.int32))

    def wants_shape_terms(self, mode: str) -> bool:
        """Whether a launch in `mode` must compute the geometric derivative terms (of vertex and
        point-light positions): in adjoint mode once a vertex-position or point-light position
        key had gradients enabled, in forward mode when vertex or light tangents were set
        (SceneData.set_tangents)."""
        if mode == "adjoint":
            return self.vertex_gradients or bool(self.gradient_lights)
        if mode == "forward":
            return bool(self.packed().vertex_tangents_set) or self.lights_move(mode)
        return False

    def lights_move(self, mode: str) -> bool:
        """Whether a launch in `mode` computes the derivatives of a point light's position:
        forward mode, a light with a nonzero tangent; adjoint, a light whose position's gradient
        was asked for."""
        if mode == "forward":
            tangents = self.packed().light_tangents
            return tangents is not None and bool(np.any(tangents != 0.0))
        return mode == "adjoint" and bool(self.gradient_lights)

    def moving_vertices(self, mode: str) -> np.ndarray:
        """(V,) bool: the vertices whose derivatives a launch computes (their edges carry the
        boundary terms; others add exactly zero): forward mode, those with a nonzero tangent;
        adjoint, those of the meshes whose vertex positions have gradients enabled."""
        data = self.packed()
        n = len(data.vertex_positions)
        if mode == "forward":
            tangent = data.vertex_tangents
            return np.zeros(n, bool) if tangent is None else np.any(tangent[:n] != 0.0, axis=1)
        moving = np.zeros(n, bool)
        for shape in self.gradient_shapes.values():
            if id(shape) in data.vertex_ranges:
                moving[data.shape_vertices(shape)] = True
        return moving


def render_state(scene) -> RenderState:
    """The renderer's state of `scene` (its ``render_state`` attribute), created on first use."""
    state = scene.render_state
    if state is None:
        state = scene.render_state = RenderState(scene)
    return state
