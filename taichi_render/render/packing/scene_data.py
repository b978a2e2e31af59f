"""Packs a host `Scene` into the typed arrays that kernels read (layout.py, view.py).

Packing runs once per scene (and again for the parts `params.update()` marks dirty). Plugins
are numbered in a stable order: shapes in scene order, then the BSDFs and textures they reach
(depth first), then emitters. The numpy copies are kept next to the device ndarrays so that
parameters can be read and written without a device round trip.
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np
import taichi as ti

from ...bsdfs.roughplastic import rough_transmittance
from .. import layout as L
from .. import view
from ..view import SCENE_ARRAY_NAMES, SCENE_ARRAYS, SceneArrays
from .bvh import BvhRefitter
from .derivative_data import DerivativeData
from .envmap_sampling import pack_envmap
from .quads import expand_units, pair_codes, pair_frames, unit_boxes
from .triangle_transforms import barycentric_transforms

# each scene's BVH builder: a re-pack after vertices moved refits the last tree (bvh.py)
_REFITTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_WRAP = {"repeat": L.WRAP_REPEAT, "mirror": L.WRAP_MIRROR, "clamp": L.WRAP_CLAMP}
_FILTER = {"nearest": L.FILTER_NEAREST, "bilinear": L.FILTER_BILINEAR}


def _affine_3x4(m: np.ndarray) -> np.ndarray:
    return np.asarray(m, dtype=np.float64)[:3, :4].reshape(-1)


def fresnel_diffuse_reflectance(eta: float) -> float:
    """Hemispherical average of the dielectric Fresnel reflectance (d'Eon and Irving fit),
    as Mitsuba's `fresnel_diffuse_reflectance`."""
    if eta < 1.0:
        return (
            -1.4399 * eta * eta + 0.7099 * eta + 0.6681 + 0.0636 / eta
        )
    inv = 1.0 / eta
    inv2, inv3, inv4, inv5 = inv * inv, inv**3, inv**4, inv**5
    return (
        0.919317 - 3.4793 * inv + 6.75335 * inv2 - 7.80989 * inv3 + 4.98554 * inv4 - 1.36881 * inv5
    )


class _Table:
    """Rows of an int table and a float table, appended per plugin."""

    def __init__(self, int_width: int, float_width: int):
        self.ints: list[np.ndarray] = []
        self.floats: list[np.ndarray] = []
        self.iw, self.fw = int_width, float_width

    def add(self) -> tuple[np.ndarray, np.ndarray]:
        self.ints.append(np.full(self.iw, -1, np.int32))
        self.floats.append(np.zeros(self.fw, np.float32))
        return self.ints[-1], self.floats[-1]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The tables; an empty one gets a row of -1 / 0, since kernels need at least one row.
        That row is not counted (len stays 0): a scene without emitters once counted one
        emitter of type -1, whose sampling read the CDF array at negative indices."""
        if not self.ints:
            return np.full((1, self.iw), -1, np.int32), np.zeros((1, self.fw), np.float32)
        return np.stack(self.ints), np.stack(self.floats)

    def __len__(self):
        return len(self.ints)


@dataclasses.dataclass
class _MeshArrays:
    """What packing the shapes accumulates: mesh vertices and triangles, and every primitive
    with its bounds."""

    positions: list = dataclasses.field(default_factory=list)
    normals: list = dataclasses.field(default_factory=list)
    uvs: list = dataclasses.field(default_factory=list)
    tri_v: list = dataclasses.field(default_factory=list)
    prims: list = dataclasses.field(default_factory=list)
    prim_boxes: list = dataclasses.field(default_factory=list)
    vtx_count: int = 0
    tri_count: int = 0


class SceneData(DerivativeData):
    """Numpy and device copies of every array in `view.SCENE_ARRAYS` for one scene (and, from
    `DerivativeData`, its gradient and tangent arrays)."""

    def __init__(self, scene):
        self.scene = scene
        self.textures: list = []  # texture plugins in packing order
        self.bsdfs: list = []
        self.emitters: list = []
        self._tex_index: dict[int, int] = {}
        self._bsdf_index: dict[int, int] = {}
        self.np: dict[str, np.ndarray] = {}
        self.grad_tape = None  # the ti.ad.Tape whose gradients the grad arrays hold
        self.vertex_tangents = None  # (V, 3) float32 forward-mode vertex tangents (set_tangents)
        self.vertex_tangents_set = False  # whether any of them is nonzero
        self.light_tangents = None  # (E, 3) float32 forward-mode tangents of point-light positions
        self.pack()
        self.upload()

    # ---- textures ----
    def texture_row(self, tex) -> int | None:
        """The row of texture plugin `tex` in the packed texture table (`tex_i`, `tex_f`,
        `tex_rgb`), None when the scene does not render it."""
        return self._tex_index.get(id(tex))

    def texture_index(self, tex) -> int:
        key = id(tex)
        if key in self._tex_index:
            return self._tex_index[key]
        idx = len(self.textures)
        self._tex_index[key] = idx
        self.textures.append(tex)
        ti_row, tf_row = self._tex.add()
        self._tex_rgb.append(np.zeros(3, np.float32))  # this texture's row (children come after)
        ti_row[:] = 0
        tf_row[L.TF_TO_UV : L.TF_TO_UV + 6] = [1, 0, 0, 0, 1, 0]
        kind = getattr(tex, "type_name", "rgb")
        rgb = np.zeros(3, np.float32)
        if kind == "bitmap":
            data = np.asarray(tex.data, np.float32)
            if data.ndim == 2:
                data = data[..., None]
            h, w, c = data.shape
            texels = np.repeat(data[..., :1], 3, axis=2) if c == 1 else data[..., :3]
            ti_row[L.TI_TYPE] = L.TEX_BITMAP
            ti_row[L.TI_OFFSET] = self._texel_count
            ti_row[L.TI_WIDTH], ti_row[L.TI_HEIGHT] = w, h
            ti_row[L.TI_WRAP] = _WRAP[getattr(tex, "wrap_mode", "repeat")]
            ti_row[L.TI_FILTER] = _FILTER[getattr(tex, "filter_type", "bilinear")]
            self._texels.append(texels.reshape(-1, 3))
            self._texel_count += h * w
            tf_row[L.TF_TO_UV : L.TF_TO_UV + 6] = np.asarray(tex.to_uv, np.float64)[:2, :3].ravel()
        elif kind == "checkerboard":
            ti_row[L.TI_TYPE] = L.TEX_CHECKERBOARD
            tf_row[L.TF_TO_UV : L.TF_TO_UV + 6] = np.asarray(tex.to_uv, np.float64)[:2, :3].ravel()
            # children are appended after this row; remember the row to patch it
            c0 = self.texture_index(tex.color0)
            c1 = self.texture_index(tex.color1)
            self._tex.ints[idx][L.TI_CHILD0] = c0
            self._tex.ints[idx][L.TI_CHILD1] = c1
        else:
            ti_row[L.TI_TYPE] = L.TEX_RGB
            rgb = np.broadcast_to(np.asarray(tex.value, np.float32), (3,))
        self._tex_rgb[idx] = np.array(rgb, np.float32)
        return idx

    # ---- bsdfs ----
    def bsdf_index(self, bsdf) -> int:
        key = id(bsdf)
        if key in self._bsdf_index:
            return self._bsdf_index[key]
        idx = len(self.bsdfs)
        self._bsdf_index[key] = idx
        self.bsdfs.append(bsdf)
        bi, bf = self._bsdf.add()
        kind = bsdf.type_name
        if kind == "diffuse":
            bi[L.BI_TYPE] = L.BSDF_DIFFUSE
            bi[L.BI_TEX0] = self.texture_index(bsdf.reflectance)
        elif kind == "twosided":
            bi[L.BI_TYPE] = L.BSDF_TWOSIDED
            front, back = bsdf.brdf[0], bsdf.brdf[1]
            c0 = self.bsdf_index(front)
            c1 = self.bsdf_index(back)
            self._bsdf.ints[idx][L.BI_CHILD0] = c0
            self._bsdf.ints[idx][L.BI_CHILD1] = c1
        elif kind in ("dielectric", "thindielectric", "roughdielectric"):
            bi[L.BI_TYPE] = {"dielectric": L.BSDF_DIELECTRIC, "thindielectric": L.BSDF_THINDIELECTRIC,
                             "roughdielectric": L.BSDF_ROUGHDIELECTRIC}[kind]
            bi[L.BI_TEX0] = self.texture_index(bsdf.specular_reflectance)
            bi[L.BI_TEX1] = self.texture_index(bsdf.specular_transmittance)
            bf[L.BF_ETA] = float(bsdf.int_ior) / float(bsdf.ext_ior)
            if kind == "roughdielectric":
                bi[L.BI_DISTRIBUTION] = 1 if bsdf.distribution == "ggx" else 0
                bf[L.BF_ALPHA_U] = bsdf.alpha_u
                bf[L.BF_ALPHA_V] = bsdf.alpha_v
        elif kind in ("conductor", "roughconductor"):
            bi[L.BI_TYPE] = L.BSDF_CONDUCTOR if kind == "conductor" else L.BSDF_ROUGHCONDUCTOR
            bi[L.BI_TEX0] = self.texture_index(bsdf.specular_reflectance)
            bf[L.BF_COND_ETA : L.BF_COND_ETA + 3] = np.broadcast_to(bsdf.eta, (3,))
            bf[L.BF_COND_K : L.BF_COND_K + 3] = np.broadcast_to(bsdf.k, (3,))
            bf[L.BF_PERFECT_MIRROR] = float(bool(getattr(bsdf, "perfect_mirror", False)))
            if kind == "roughconductor":
                bi[L.BI_DISTRIBUTION] = 1 if bsdf.distribution == "ggx" else 0
                bf[L.BF_ALPHA_U] = bsdf.alpha_u
                bf[L.BF_ALPHA_V] = bsdf.alpha_v
        elif kind in ("plastic", "roughplastic"):
            bi[L.BI_TYPE] = L.BSDF_PLASTIC if kind == "plastic" else L.BSDF_ROUGHPLASTIC
            bi[L.BI_TEX0] = self.texture_index(bsdf.diffuse_reflectance)
            bi[L.BI_TEX1] = self.texture_index(bsdf.specular_reflectance)
            eta = float(bsdf.int_ior) / float(bsdf.ext_ior)
            bf[L.BF_ETA] = eta
            bi[L.BI_NONLINEAR] = int(bool(bsdf.nonlinear))
            if kind == "plastic":
                bf[L.BF_FDR_INT] = fresnel_diffuse_reflectance(1.0 / eta)
            else:
                ggx = bsdf.distribution == "ggx"
                table, internal = rough_transmittance(float(bsdf.alpha), ggx, eta)
                bi[L.BI_DISTRIBUTION] = int(ggx)
                bi[L.BI_TABLE] = self._append_dist(table)
                bf[L.BF_ALPHA_U] = bf[L.BF_ALPHA_V] = float(bsdf.alpha)
                bf[L.BF_FDR_INT] = internal
            d_mean = float(np.mean(_texture_mean(bsdf.diffuse_reflectance)))
            s_mean = float(np.mean(_texture_mean(bsdf.specular_reflectance)))
            bf[L.BF_SPEC_WEIGHT] = s_mean / max(d_mean + s_mean, 1e-12)
        else:
            raise NotImplementedError(f"bsdf type {kind!r} cannot be rendered")
        return idx

    # ---- whole scene ----
    def pack(self):
        """Pack the scene into the host arrays `self.np` (the device copies are made from them)."""
        scene = self.scene
        self._tex = _Table(L.TI_COLS, L.TF_WIDTH)
        self._bsdf = _Table(L.BI_WIDTH, L.BF_WIDTH)
        self._shape = _Table(L.SI_WIDTH, L.SF_WIDTH)
        self._em = _Table(L.EI_WIDTH, L.EF_WIDTH)
        self._tex_rgb: list[np.ndarray] = []
        self._texels: list[np.ndarray] = []
        self._texel_count = 0
        self._dist: list[np.ndarray] = []
        self._dist_count = 0
        self._tri_areas: dict[int, np.ndarray] = {}
        self.vertex_ranges: dict[int, tuple[int, int]] = {}  # id(mesh shape) -> (first vertex, count)
        self.emitter_of_shape: dict[int, int] = {}  # id(shape) -> emitter row
        self.shapes = list(scene.shapes())
        mesh = _MeshArrays()
        shape_emitter = {}
        for s_idx, shape in enumerate(self.shapes):
            self._pack_shape(s_idx, shape, mesh)
            if shape.emitter is not None:
                shape_emitter[s_idx] = shape.emitter
        env_index = self._pack_emitters(shape_emitter)
        prim_arr, any_prims = self._pack_geometry(mesh)
        self.np["shape_i"], self.np["shape_f"] = self._shape.arrays()
        self.np["bsdf_i"], self.np["bsdf_f"] = self._bsdf.arrays()
        _pack_diffuse_leaves(self.np["shape_i"], self.np["bsdf_i"], len(self._shape))
        self.np["tex_i"], self.np["tex_f"] = self._tex.arrays()
        self.np["tex_rgb"] = np.stack(self._tex_rgb) if self._tex_rgb else np.zeros((1, 3), np.float32)
        self.np["texels"] = np.concatenate(self._texels) if self._texels else np.zeros((1, 3), np.float32)
        self.np["em_i"], self.np["em_f"] = self._em.arrays()
        self.np["dist"] = np.concatenate(self._dist).astype(np.float32) if self._dist else np.zeros(1, np.float32)
        self.np["scene_i"] = self._scene_row(prim_arr, any_prims, env_index)
        self.np["cam"] = np.zeros(L.CAM_WIDTH, np.float32)
        self.features = plugin_features(self.np, len(self._shape), len(self._bsdf), len(self._tex), len(self._em))

    def _pack_shape(self, s_idx: int, shape, mesh: _MeshArrays) -> None:
        """Row s_idx of the shape table; a mesh's vertices and triangles go to `mesh`, every
        shape's primitives and their bounds to `mesh.prims` / `mesh.prim_boxes`."""
        si, sf = self._shape.add()
        si[L.SI_BSDF] = self.bsdf_index(shape.bsdf)
        si[L.SI_FLIP_NORMALS] = int(bool(getattr(shape, "flip_normals", False)))
        si[L.SI_HAS_NORMALS] = L.NORMALS_NONE
        si[L.SI_HAS_UV] = 0
        si[L.SI_TRI_OFFSET] = mesh.tri_count
        si[L.SI_TRI_COUNT] = 0
        kind = shape.type_name
        if kind == "sphere":
            si[L.SI_TYPE] = L.PRIM_SPHERE
            c, r = np.asarray(shape.center, np.float64), float(shape.radius)
            sf[L.SF_CENTER : L.SF_CENTER + 3] = c
            sf[L.SF_RADIUS] = r
            sf[L.SF_AREA] = 4.0 * np.pi * r * r
            mesh.prims.append((L.PRIM_SPHERE, s_idx))
            mesh.prim_boxes.append(np.stack([c - r, c + r]))
        elif kind == "disk":
            si[L.SI_TYPE] = L.PRIM_DISK
            m = np.asarray(shape.to_world, np.float64)
            sf[L.SF_TO_WORLD : L.SF_TO_WORLD + 12] = _affine_3x4(m)
            sf[L.SF_TO_LOCAL : L.SF_TO_LOCAL + 12] = _affine_3x4(np.linalg.inv(m))
            ax, ay = m[:3, 0], m[:3, 1]
            sf[L.SF_AREA] = np.pi * np.linalg.norm(np.cross(ax, ay))
            ring = np.array(
                [m[:3, :3] @ [np.cos(a), np.sin(a), 0] + m[:3, 3] for a in np.linspace(0, 2 * np.pi, 65)]
            )
            extent = np.linalg.norm(ax) + np.linalg.norm(ay)
            center = m[:3, 3]
            lo = np.minimum(ring.min(0), center - 1e-6 * extent)
            hi = np.maximum(ring.max(0), center + 1e-6 * extent)
            mesh.prim_boxes.append(np.stack([lo, hi]))
            mesh.prims.append((L.PRIM_DISK, s_idx))
        else:  # triangle meshes
            self._pack_mesh(s_idx, shape, si, sf, mesh)

    def _pack_mesh(self, s_idx: int, shape, si: np.ndarray, sf: np.ndarray, mesh: _MeshArrays) -> None:
        si[L.SI_TYPE] = L.PRIM_TRIANGLE
        p = np.asarray(shape.vertex_positions, np.float32).reshape(-1, 3)
        f = np.asarray(shape.faces, np.int64).reshape(-1, 3)
        n = getattr(shape, "vertex_normals", None)
        face_normals = bool(getattr(shape, "face_normals", False))
        has_n = n is not None and len(n) == len(p) and not face_normals
        uv = getattr(shape, "vertex_texcoords", None)
        has_uv = uv is not None and len(uv) == len(p)
        si[L.SI_HAS_NORMALS] = _normals_kind(p, f, n) if has_n else L.NORMALS_NONE
        si[L.SI_HAS_UV] = int(has_uv)
        si[L.SI_TRI_COUNT] = len(f)
        self.vertex_ranges[id(shape)] = (mesh.vtx_count, len(p))
        mesh.positions.append(p)
        mesh.normals.append(np.asarray(n, np.float32).reshape(-1, 3) if has_n else np.zeros_like(p))
        mesh.uvs.append(np.asarray(uv, np.float32).reshape(-1, 2) if has_uv else np.zeros((len(p), 2), np.float32))
        tv = np.empty((len(f), 4), np.int32)
        tv[:, :3] = f + mesh.vtx_count
        tv[:, 3] = s_idx
        mesh.tri_v.append(tv)
        corners = p[f]  # (F, 3, 3)
        mesh.prim_boxes.append(np.stack([corners.min(1), corners.max(1)], axis=1))
        mesh.prims.extend(zip([L.PRIM_TRIANGLE] * len(f), range(mesh.tri_count, mesh.tri_count + len(f))))
        e1 = corners[:, 1] - corners[:, 0]
        e2 = corners[:, 2] - corners[:, 0]
        areas = 0.5 * np.linalg.norm(np.cross(e1.astype(np.float64), e2), axis=1)
        sf[L.SF_AREA] = areas.sum()
        self._tri_areas[s_idx] = areas
        mesh.vtx_count += len(p)
        mesh.tri_count += len(f)

    def _pack_emitters(self, shape_emitter: dict) -> int:
        """Area emitters in shape order, then the scene's other emitters; returns the row of the
        environment emitter (-1: none)."""
        env_index = -1
        for s_idx, emitter in shape_emitter.items():
            self._add_area_emitter(emitter, s_idx)
        for emitter in self.scene.emitters():
            if emitter.type_name == "area":
                continue
            idx = self._add_emitter(emitter)
            if emitter.type_name in ("constant", "envmap"):
                if env_index >= 0:
                    raise ValueError("a scene can hold only one environment emitter (constant or envmap)")
                env_index = idx
        return env_index

    def _pack_geometry(self, mesh: _MeshArrays):
        """Triangle, vertex, primitive and BVH arrays into `self.np`; returns the primitives in
        BVH order ((N, 2) int32 (kind, index)) and whether the scene has any."""
        P = np.concatenate(mesh.positions) if mesh.positions else np.zeros((1, 3), np.float32)
        tri = np.concatenate(mesh.tri_v) if mesh.tri_v else np.zeros((0, 4), np.int32)
        corners = P[tri[:, :3]] if len(tri) else np.zeros((0, 3, 3), np.float32)
        tri_p = np.zeros((max(len(tri), 1), 6, 3), np.float32)
        if len(tri):
            tri_p[:, 0] = corners[:, 0]
            tri_p[:, 1] = corners[:, 1] - corners[:, 0]
            tri_p[:, 2] = corners[:, 2] - corners[:, 0]
            tri_p[:, 3:6] = barycentric_transforms(corners)
        boxes = (
            np.concatenate([b.reshape(-1, 2, 3) for b in mesh.prim_boxes]).astype(np.float32)
            if mesh.prim_boxes
            else np.zeros((0, 2, 3), np.float32)
        )
        prim_arr = np.array(mesh.prims, np.int32).reshape(-1, 2)
        # triangle pairs forming parallelograms are tested as one unit by packets (quads.py)
        codes = pair_codes(prim_arr, corners, tri[:, 3], tri_p[:, 3:6]) if len(tri) else np.zeros(len(prim_arr),
                                                                                                   np.int32)
        units, first = unit_boxes(boxes, codes)
        refitter = _REFITTERS.setdefault(self.scene, BvhRefitter())
        node_box, node_i, unit_order = refitter(units, np.concatenate([prim_arr.ravel(), codes]))
        order, node_i = expand_units(unit_order, first, codes, node_i)
        self._num_nodes = len(node_i) if len(order) else 0
        prim_arr = prim_arr[order] if len(order) else np.zeros((1, 2), np.int32)
        pair_p = np.zeros((1, 4, 3), np.float32)
        if len(order):  # rows num_nodes + k: (unit code, pairs headed before k), then (0, Q); quads.py
            pair_p, pair_rows = pair_frames(codes[order], prim_arr[:, 1], corners)
            node_i = np.concatenate([node_i, np.stack([np.r_[codes[order], 0], pair_rows], axis=1)])
        self.np.update(
            tri_p=tri_p,
            tri_v=tri if len(tri) else np.zeros((1, 4), np.int32),
            vtx_n=np.concatenate(mesh.normals) if mesh.normals else np.zeros((1, 3), np.float32),
            vtx_uv=np.concatenate(mesh.uvs) if mesh.uvs else np.zeros((1, 2), np.float32),
            prim=prim_arr,
            node_box=node_box,
            node_i=node_i,
            pair_p=pair_p,
        )
        self.vertex_positions = P
        return prim_arr, len(order) > 0

    def _scene_row(self, prim_arr: np.ndarray, any_prims: bool, env_index: int) -> np.ndarray:
        """The `scene_i` row: counts, the environment emitter, the listed emitter primitives."""
        emitter_prims = self._emitter_prims(prim_arr, any_prims)
        listed = env_index < 0 and len(emitter_prims) <= L.MAX_LISTED_EMITTER_PRIMS
        scene_i = np.zeros(L.SC_WIDTH + (len(emitter_prims) if listed else 0), np.int32)
        scene_i[L.SC_EMITTER_PRIMS] = len(emitter_prims) if listed else -1
        if listed:
            scene_i[L.SC_WIDTH:] = emitter_prims
        scene_i[L.SC_NUM_EMITTERS] = len(self._em)
        scene_i[L.SC_ENV_EMITTER] = env_index
        scene_i[L.SC_NUM_NODES] = self._num_nodes
        scene_i[L.SC_GRAD_TEXTURES] = -1
        em_i = self.np["em_i"]
        scene_i[L.SC_TRIANGLE_EMITTERS] = int(len(self._em) > 0 and all(
            row[L.EI_TYPE] == L.EMITTER_AREA and self.np["shape_i"][row[L.EI_SHAPE], L.SI_TYPE] == L.PRIM_TRIANGLE
            for row in em_i))
        return scene_i

    def _emitter_prims(self, prim_arr: np.ndarray, any_prims: bool) -> list:
        """Indices into the BVH-ordered `prim` array of the primitives of emitting shapes."""
        if not any_prims:
            return []
        shape_i, tri_v = self.np["shape_i"], self.np["tri_v"]
        shapes = np.where(prim_arr[:, 0] == L.PRIM_TRIANGLE, tri_v[np.minimum(prim_arr[:, 1], len(tri_v) - 1), 3],
                          prim_arr[:, 1])
        return np.flatnonzero(shape_i[shapes, L.SI_EMITTER] >= 0).tolist()

    def _append_dist(self, values: np.ndarray) -> int:
        offset = self._dist_count
        self._dist.append(np.asarray(values, np.float64))
        self._dist_count += len(values)
        return offset

    def _add_area_emitter(self, emitter, s_idx: int) -> int:
        idx = len(self._em)
        self.emitters.append(emitter)
        ei, ef = self._em.add()
        ei[L.EI_TYPE] = L.EMITTER_AREA
        ei[L.EI_SHAPE] = s_idx
        ei[L.EI_TEX] = self.texture_index(emitter.radiance)
        shape_row_i, shape_row_f = self._shape.ints[s_idx], self._shape.floats[s_idx]
        shape_row_i[L.SI_EMITTER] = idx
        self.emitter_of_shape[id(self.shapes[s_idx])] = idx
        ef[L.EF_AREA] = shape_row_f[L.SF_AREA]
        if shape_row_i[L.SI_TYPE] == L.PRIM_TRIANGLE:
            areas = self._tri_areas[s_idx]
            cdf = np.cumsum(areas)
            total = cdf[-1] if len(cdf) else 0.0
            cdf = cdf / total if total > 0 else np.linspace(1.0 / len(cdf), 1.0, len(cdf))
            ei[L.EI_CDF_OFFSET] = self._append_dist(cdf)
            ei[L.EI_CDF_COUNT] = len(cdf)
        return idx

    def _add_emitter(self, emitter) -> int:
        idx = len(self._em)
        self.emitters.append(emitter)
        ei, ef = self._em.add()
        kind = emitter.type_name
        if kind == "point":
            ei[L.EI_TYPE] = L.EMITTER_POINT
            ei[L.EI_TEX] = self.texture_index(emitter.intensity)
            ef[L.EF_POSITION : L.EF_POSITION + 3] = np.asarray(emitter.position, np.float64)
        elif kind == "constant":
            ei[L.EI_TYPE] = L.EMITTER_CONSTANT
            ei[L.EI_TEX] = self.texture_index(emitter.radiance)
        elif kind == "envmap":
            ei[L.EI_TYPE] = L.EMITTER_ENVMAP
            pack_envmap(self, emitter, ei, ef)
        else:
            raise NotImplementedError(f"emitter type {kind!r} cannot be rendered")
        return idx

    def upload(self):
        """Create (or refill) the device ndarrays from the numpy copies."""
        self.nd = getattr(self, "nd", {})
        for name, annotation in SCENE_ARRAYS:
            data = self.np[name]
            dtype = annotation.dtype
            current = self.nd.get(name)
            if current is None or tuple(current.shape) != _element_shape(data, dtype):
                self.nd[name] = _new_ndarray(data, dtype)
            self.nd[name].from_numpy(np.ascontiguousarray(data))

    def upload_one(self, name: str):
        """Upload one array (to a new device array when its shape changed, e.g. `cam` for a
        batch sensor's rows)."""
        data = np.ascontiguousarray(self.np[name])
        dtype = dict(SCENE_ARRAYS)[name].dtype
        if tuple(self.nd[name].shape) != _element_shape(data, dtype):
            self.nd[name] = _new_ndarray(data, dtype)
        self.nd[name].from_numpy(data)

    def arrays(self):
        """The device arrays as the kernels' `view.SceneArrays` argument pack, built once per set
        of device arrays (building one costs about a millisecond; refills keep it valid)."""
        current = tuple(self.nd[name] for name in SCENE_ARRAY_NAMES)
        if getattr(self, "_pack_of", None) != tuple(map(id, current)):
            self._pack = SceneArrays(**dict(zip(SCENE_ARRAY_NAMES, current)))
            self._pack_of = tuple(map(id, current))
        return self._pack


def plugin_features(arrays: dict, n_shapes: int, n_bsdfs: int, n_textures: int, n_emitters: int) -> int:
    """The plugin families (view.py's flags) whose device code a scene's kernels need, from its
    packed tables (`arrays`: name -> numpy array; the counts exclude placeholder rows)."""
    shape_i, bsdf_i = arrays["shape_i"][:n_shapes], arrays["bsdf_i"][:n_bsdfs]
    features = 0
    if (shape_i[:, L.SI_TYPE] != L.PRIM_TRIANGLE).any():
        features |= view.ANALYTIC_SHAPES
    if (arrays["tex_i"][:n_textures, L.TI_TYPE] != L.TEX_RGB).any():
        features |= view.TEXTURES
    # the packets' diffuse vertex serves shapes whose sides are diffuse (SI_DIFFUSE_FRONT >= 0)
    if (~np.isin(bsdf_i[:, L.BI_TYPE], (L.BSDF_DIFFUSE, L.BSDF_TWOSIDED))).any() or \
            (shape_i[:, L.SI_DIFFUSE_FRONT] < 0).any():
        features |= view.MATERIALS
    if (arrays["em_i"][:n_emitters, L.EI_TYPE] != L.EMITTER_AREA).any():
        features |= view.EMITTERS
    return features


def _texture_mean(tex) -> np.ndarray:
    if getattr(tex, "type_name", "rgb") == "bitmap":
        return np.asarray(tex.data, np.float32).reshape(-1, np.asarray(tex.data).shape[-1]).mean(0)
    if getattr(tex, "type_name", "rgb") == "checkerboard":
        return 0.5 * (_texture_mean(tex.color0) + _texture_mean(tex.color1))
    return np.broadcast_to(np.asarray(tex.value, np.float32), (3,))


def _vector_width(dtype) -> int:
    return getattr(dtype, "n", 0) or 0


def _element_shape(data: np.ndarray, dtype) -> tuple:
    width = _vector_width(dtype)
    return tuple(data.shape[:-1]) if width else tuple(data.shape)


def _normals_kind(positions: np.ndarray, faces: np.ndarray, normals) -> int:
    """NORMALS_FLAT when the vertex normals (N, 3) of every corner of the non-degenerate faces
    (F, 3) equal their face's unit normal within 1e-6 (a rectangle, a cube), else
    NORMALS_VERTEX. Packets then shade those meshes with the face normal instead of
    interpolating three equal normals per lane."""
    c = positions[faces].astype(np.float64)
    face_n = np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0])
    length = np.linalg.norm(face_n, axis=1)
    live = length > 0.0
    face_n = face_n[live] / length[live, None]
    corner_n = np.asarray(normals, np.float64).reshape(-1, 3)[faces[live]]
    flat = np.abs(corner_n - face_n[:, None, :]).max(initial=0.0) <= 1e-6
    return L.NORMALS_FLAT if flat else L.NORMALS_VERTEX


def _pack_diffuse_leaves(shape_i: np.ndarray, bsdf_i: np.ndarray, count: int) -> None:
    """Fill the SI_DIFFUSE_FRONT / SI_DIFFUSE_BACK / SI_TWOSIDED columns of the first `count`
    rows of shape_i (S, SI_WIDTH) int32 from bsdf_i (B, BI_WIDTH) int32, in place: a packet
    vertex reads a shape's diffuse leaves in one step instead of walking the BSDF rows."""
    for row in shape_i[:count]:
        b = row[L.SI_BSDF]
        two = bsdf_i[b, L.BI_TYPE] == L.BSDF_TWOSIDED
        front, back = (bsdf_i[b, L.BI_CHILD0], bsdf_i[b, L.BI_CHILD1]) if two else (b, b)
        diffuse = bsdf_i[front, L.BI_TYPE] == L.BSDF_DIFFUSE and bsdf_i[back, L.BI_TYPE] == L.BSDF_DIFFUSE
        row[L.SI_DIFFUSE_FRONT] = front if diffuse else -1
        row[L.SI_DIFFUSE_BACK] = back if diffuse else -1
        row[L.SI_TWOSIDED] = int(two)


def _new_ndarray(data: np.ndarray, dtype):
    shape = _element_shape(data, dtype)
    return ti.ndarray(dtype, shape)
