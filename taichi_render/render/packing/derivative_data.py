"""Gradient and tangent arrays of a scene's packed data, and reading gradients back per plugin.

`DerivativeData` is a part of `scene_data.SceneData`: it reads the packed numpy arrays
(`self.np`), the texture rows (`self.texture_row`), the vertex ranges and the emitter of each
mesh that `SceneData.pack` records. Derivative targets: rgb texture values (`tex_rgb`, (N, 3)),
bitmap texels (`texels`, (N, 3)), vertices (`vtx`, (2 V, 3): the positions in rows [0, V), the
unit vertex normals in rows [V, 2 V)) and emitters (`emitter`, (E * L.ED_WIDTH,): per emitter row,
an area emitter's total area and a point light's position), all float32. Vertex
normals are a function of the positions (shapes/vertex_normals.py), so their rows are folded
into the positions' gradient (`vertex_gradient`) and filled from the positions' tangent
(`ad/forward.py`).
"""

from __future__ import annotations

import numpy as np
import taichi as ti

from ...shapes.vertex_normals import smooth_vertex_normals_vjp
from .. import layout as L
from ..device.film import zero, zero_gradient_arrays


class DerivativeData:
    """Gradient arrays (adjoint mode), tangent arrays (forward mode), per-plugin gradients."""

    DERIVATIVE_TARGETS = ("tex_rgb", "texels", "vtx", "emitter")

    def derivative_arrays(self, mode: str) -> tuple:
        """The 8 derivative arrays of a kernel launch: gradients of (tex_rgb, texels, vertex
        positions, emitter rows), then tangents of the same; real arrays for the mode's side
        (adjoint: gradients, forward: tangents), placeholders for the other."""
        grads = self.gradient_arrays() if mode == "adjoint" else self._placeholders()
        tans = self.tangents if mode == "forward" else self._placeholders()
        return tuple(grads[k] for k in self.DERIVATIVE_TARGETS) + tuple(tans[k] for k in self.DERIVATIVE_TARGETS)

    def _placeholders(self) -> dict:
        if getattr(self, "_dummy", None) is None:
            v3 = ti.ndarray(ti.math.vec3, 1)
            f1 = ti.ndarray(ti.f32, 1)
            self._dummy = {"tex_rgb": v3, "texels": v3, "vtx": v3, "emitter": f1}
        return self._dummy

    def _target_sizes(self) -> dict:
        return {"tex_rgb": len(self.np["tex_rgb"]), "texels": len(self.np["texels"]),
                "vtx": 2 * max(len(self.vertex_positions), 1),
                "emitter": L.ED_WIDTH * max(len(self.np["em_i"]), 1)}

    def vertex_rows(self) -> int:
        """V: the offset of the normals' rows in the `vtx` derivative arrays."""
        return max(len(self.vertex_positions), 1)

    def gradient_arrays(self) -> dict:
        """Gradient ndarrays of every derivative target, allocated (zeroed) on first use."""
        grads = getattr(self, "grads", None)
        if grads is None:
            grads = {}
            for name, size in self._target_sizes().items():
                grads[name] = ti.ndarray(ti.f32 if name == "emitter" else ti.math.vec3, size)
                zero(grads[name])
            self.grads = grads
        return grads

    def zero_gradients(self):
        grads = getattr(self, "grads", None)
        if grads is not None:
            zero_gradient_arrays(*(grads[k] for k in self.DERIVATIVE_TARGETS))

    def set_tangents(self, tangents: dict):
        """Forward-mode tangents: numpy arrays per target (missing targets: zero)."""
        self.tangents = {}
        for name, size in self._target_sizes().items():
            flat = name == "emitter"
            nd = ti.ndarray(ti.f32 if flat else ti.math.vec3, size)
            value = tangents.get(name)
            if name == "vtx":
                self.vertex_tangents_set = value is not None and bool(np.any(value))
                self.vertex_tangents = None if value is None else np.asarray(value, np.float32).reshape(-1, 3)
            if flat:
                rows = np.zeros((size // L.ED_WIDTH, L.ED_WIDTH), np.float32) if value is None else (
                    np.asarray(value, np.float32).reshape(-1, L.ED_WIDTH))
                self.light_tangents = rows[:, L.ED_POSITION : L.ED_POSITION + 3]
            if value is None:
                zero(nd)
            else:
                nd.from_numpy(np.ascontiguousarray(value, dtype=np.float32).reshape((size,) if flat else (size, 3)))
            self.tangents[name] = nd

    def shape_vertices(self, shape) -> slice:
        """Rows of the global vertex arrays that belong to a mesh shape."""
        start, count = self.vertex_ranges[id(shape)]
        return slice(start, start + count)

    def vertex_gradient(self, shape) -> np.ndarray:
        """Accumulated gradient of a mesh's vertex positions, (N, 3), including the parts
        through its vertex normals (when it has them) and through the total area of its area
        emitter."""
        grads = self.gradient_arrays()
        rows = self.shape_vertices(shape)
        all_rows = grads["vtx"].to_numpy()
        g = all_rows[rows].astype(np.float64)
        if getattr(shape, "vertex_normals", None) is not None:
            offset = self.vertex_rows()
            g_normals = all_rows[rows.start + offset : rows.stop + offset]
            if np.any(g_normals):
                g += smooth_vertex_normals_vjp(shape.vertex_positions, shape.faces, g_normals)
        e = self.emitter_of_shape.get(id(shape))
        if e is not None:
            ga = float(grads["emitter"].to_numpy()[e * L.ED_WIDTH + L.ED_AREA])
            if ga != 0.0:
                g += ga * self.area_gradient(shape)
        return g.astype(np.float32)

    def emitter_row(self, emitter) -> int | None:
        """The row of an emitter plugin in the emitter table (em_i), None when not packed."""
        for row, packed in enumerate(self.emitters):
            if packed is emitter:
                return row
        return None

    def position_gradient(self, emitter) -> np.ndarray:
        """Accumulated gradient of a point light's position, (3,) float32."""
        row = self.emitter_row(emitter)
        if row is None:
            return np.zeros(3, np.float32)
        start = row * L.ED_WIDTH + L.ED_POSITION
        return self.gradient_arrays()["emitter"].to_numpy()[start : start + 3].astype(np.float32)

    def area_gradient(self, shape) -> np.ndarray:
        """d(total area of a mesh)/d(vertex positions), (N, 3)."""
        p = np.asarray(shape.vertex_positions, np.float64).reshape(-1, 3)
        f = np.asarray(shape.faces, np.int64).reshape(-1, 3)
        e1 = p[f[:, 1]] - p[f[:, 0]]
        e2 = p[f[:, 2]] - p[f[:, 0]]
        c = np.cross(e1, e2)
        norm = np.linalg.norm(c, axis=1, keepdims=True)
        u = np.divide(c, norm, out=np.zeros_like(c), where=norm > 0)
        # area = |c| / 2;  d area = u . (de1 x e2 + e1 x de2) / 2
        g_e1 = 0.5 * np.cross(e2, u)
        g_e2 = 0.5 * np.cross(u, e1)
        out = np.zeros_like(p)
        np.add.at(out, f[:, 0], -g_e1 - g_e2)
        np.add.at(out, f[:, 1], g_e1)
        np.add.at(out, f[:, 2], g_e2)
        return out

    def texture_slot(self, tex) -> tuple[str, slice, tuple]:
        """Where texture `tex`'s values live: (array name, slice of rows, numpy shape)."""
        row = self.texture_row(tex)
        if self.np["tex_i"][row, L.TI_TYPE] == L.TEX_BITMAP:
            off = int(self.np["tex_i"][row, L.TI_OFFSET])
            w, h = int(self.np["tex_i"][row, L.TI_WIDTH]), int(self.np["tex_i"][row, L.TI_HEIGHT])
            return "texels", slice(off, off + w * h), (h, w, 3)
        return "tex_rgb", slice(row, row + 1), (3,)

    def texture_gradient(self, tex) -> np.ndarray:
        """Accumulated gradient of a texture's values: (3,) for rgb, (H, W, C) for bitmaps."""
        name, rows, shape = self.texture_slot(tex)
        grads = self.gradient_arrays()
        g = grads[name].to_numpy()[rows].reshape(shape)
        channels = np.asarray(getattr(tex, "data", np.zeros((1, 1, 3)))).reshape(shape[:2] + (-1,)).shape[-1] if len(shape) == 3 else 3
        if len(shape) == 3 and channels == 1:
            g = g.sum(axis=2, keepdims=True)  # single-channel bitmaps are broadcast to RGB
        return g
