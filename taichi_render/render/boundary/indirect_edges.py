"""Indirect visibility: the boundary term of vertex-position derivatives where what a path
vertex sees changes discontinuously (shadow boundaries of area and environment emitters,
silhouettes seen after a bounce), for the projective integrators. Edge sampling in direction
space at each path vertex (Li et al. 2018, "Differentiable Monte Carlo Ray Tracing through Edge
Sampling", section 5.2).

At a vertex x the reflected radiance is ∫ g(ω) dω with g = f(x, ω) cos L_i(x, ω). A mesh edge
p0 + ℓ e (unit e) projects onto the sphere of directions at x; where g jumps across it and the
edge moves as seen from x, the derivative has the term

    ∫_edge (g⁻(ω) - g⁺(ω)) ((m' - x') · (ω × e)) / r² dℓ,      ω = (m - x) / r, r = |m - x|

with g⁺ just on the side of ω × e. The edge point moves as m' = (1 - t) v₀' + t v₁'; x moves
when its triangle does, along its (detached) ray as in the interior terms
(shape_derivatives.triangle_tangent), so a moving point also sees static edges move: the sky
around a wall's edge as seen from a box sliding in front of it. Point lights are a delta in
direction space: the radiance from them jumps on surfaces, not on the sphere of directions, and
their shadow boundaries are point_shadow_edges.py's term.

The host (`edge_table_3d`) lists every mesh edge once (coincident vertices fused), moving ones
first, with its adjacent faces and whether it is a flat-shaded crease, and two CDFs by length:
over the moving edges and over all. The kernel runs `sppi` primal camera paths per pixel; at one
vertex of each (drawn uniformly) with a smooth BSDF it draws one edge point by length, among all
edges where x lies on a moving triangle and among the moving ones elsewhere, keeps it if the
edge can carry a jump as seen from x (a silhouette from x, a boundary, or a crease), evaluates
g⁺ and g⁻ with two continuation paths of the remaining depth (the same random numbers) a hair to
either side of the edge, aimed at it from x's offset origin, which they leave from (on an
emitter's own outline, the emission they find MIS-weighted as x's BSDF sample: the emitter
sample's share is the interior terms'), and scatters (reverse mode,
into the edge's ends and x's triangle) or gathers (forward mode) the term weighted by the path's
throughput up to x and the pixel filter.
"""

import dataclasses

import numpy as np
import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.bsdf import has_smooth_lobe, slot_textures
from ..device.camera import camera_ray
from ..device.derivatives import MODE_ADJOINT, MODE_PRIMAL, ADView
from ..device.frame import frame_from_normal
from ..device.intersect import INF, spawn_origin, trace
from ..device.path_tracer import path_start, traced_vertex, vertex_setup
from ..device.shape_derivatives import triangle_scatter, triangle_tangent
from ..device.warp import INV_PI
from ..view import F_1, I_1, I_2, IMG, V3_1, V3_2, SceneArrays, SceneView
from .primary_edges import boundary_adjoint, pick_edge_between, splat_boundary_term

vec2 = ti.math.vec2
vec3 = ti.math.vec3

# edge3_i columns: adjacent faces (2; -1: none), end vertices as each face indexes them (4), flags
E3_F0, E3_F1, E3_ENDS, E3_FLAGS, E3_WIDTH = 0, 1, 2, 6, 7
# flags: EDGE_ALWAYS: a boundary or non-manifold edge; EDGE_CREASE: flat-shaded faces that differ;
# EDGE_EMITTER: an edge of an emitter's shape
EDGE_ALWAYS, EDGE_CREASE, EDGE_EMITTER = 1, 2, 4
SIDE_ANGLE = 1e-4  # radians between the edge's direction and those of g+ and g-
INDIRECT_STREAM = 0x1D1EC7  # sample index of the indirect edge samples' random keys
MAX_UNBOUNDED_VERTICES = 8  # vertices that carry the term on paths of unbounded depth


@dataclasses.dataclass
class EdgeTable3D:
    """The mesh edges the indirect and point-shadow terms sample, moving ones first.

    `ends`: (E, 2) vec3 end points (float32, (E, 2, 3)); `info`: (E, E3_WIDTH) int32 (adjacent
    faces, end vertices, flags); `cdf`: (M + E,) float32, by length over the M moving edges
    (rows 0 to M - 1), then over all E edges (rows M to M + E - 1); `moving_edges`: M;
    `moving_length`, `total_length`: the lengths those CDFs normalise. An edge moves when one of
    its ends does."""

    ends: np.ndarray
    info: np.ndarray
    cdf: np.ndarray
    moving_edges: int
    moving_length: float
    total_length: float


def edge_table_3d(topology, positions: np.ndarray, tri_v: np.ndarray, flat_shapes: np.ndarray,
                  moving: np.ndarray | None = None, emitter_shapes: np.ndarray | None = None) -> EdgeTable3D | None:
    """The edges of `topology` (primary_edges.EdgeTopology) for the current positions (V, 3),
    those with an end among the `moving` vertices ((V,) bool; default all) first, flagged
    EDGE_EMITTER where a face's shape is among `emitter_shapes` ((S,) bool; default none); None
    when no edge moves. Static edges matter at points that move (their direction from the point
    changes). `tri_v`: (T, 4) int (vertices, shape); `flat_shapes`: (S,) bool."""
    if len(topology.faces) == 0:
        return None
    p = np.asarray(positions, np.float64)
    tri = np.asarray(tri_v, np.int64)
    keep = np.ones(len(topology.faces), bool)
    if moving is not None:
        keep = moving[topology.ends[:, 0, 0]] | moving[topology.ends[:, 0, 1]]
    if not np.any(keep):
        return None
    order = np.concatenate([np.flatnonzero(keep), np.flatnonzero(~keep)])
    ends = topology.ends[order, 0]
    a, b = p[ends[:, 0]], p[ends[:, 1]]
    length = np.linalg.norm(b - a, axis=1)
    n_moving = int(keep.sum())
    moving_length = float(length[:n_moving].sum())
    if moving_length <= 0.0:
        return None
    corners = p[tri[:, :3]]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-30)
    f0, f1 = topology.faces[order, 0], topology.faces[order, 1]
    two = f1 >= 0
    g1 = np.maximum(f1, 0)
    crease = two & flat_shapes[tri[f0, 3]] & (np.einsum("ij,ij->i", normal[f0], normal[g1]) < 1.0 - 1e-6)
    info = np.zeros((len(f0), E3_WIDTH), np.int32)
    info[:, E3_F0] = f0
    info[:, E3_F1] = f1
    info[:, E3_ENDS : E3_ENDS + 4] = topology.ends[order].reshape(-1, 4)
    info[:, E3_FLAGS] = np.where(~two | topology.non_manifold[order], EDGE_ALWAYS, 0) | np.where(crease, EDGE_CREASE, 0)
    if emitter_shapes is not None:
        lit = emitter_shapes[tri[f0, 3]] | (two & emitter_shapes[tri[g1, 3]])
        info[:, E3_FLAGS] |= np.where(lit, EDGE_EMITTER, 0)
    total_length = float(length.sum())
    cdf = np.concatenate([_cdf(length[:n_moving]), _cdf(length)])
    return EdgeTable3D(np.stack([a, b], axis=1).astype(np.float32), info, cdf, n_moving, moving_length, total_length)


def _cdf(length: np.ndarray) -> np.ndarray:
    cdf = (np.cumsum(length) / length.sum()).astype(np.float32)
    cdf[-1] = 1.0
    return cdf


@ti.func
def _faces_x(sc: ti.template(), face: ti.i32, x: vec3) -> ti.i32:
    """Whether triangle `face` turns its front (winding order) to the point x."""
    n = sc.tri_p[face, 1].cross(sc.tri_p[face, 2])
    return n.dot(x - sc.tri_p[face, 0]) > 0.0


@ti.func
def _integrand(sc: ti.template(), ad: ti.template(), key: ti.u32, x: vec3, ng: vec3, wo: vec3,
               b: ti.i32, tex0: vec3, tex1: vec3, wi: vec3, w: vec3, max_depth: ti.i32, rr_depth: ti.i32,
               edge_emitter: ti.i32) -> vec3:
    """g(w) = f(x, w) cos L_i(x, w) at a diffuse vertex, 0 at others (like the interior terms,
    the term covers diffuse surfaces; calling bsdf.eval_pdf in this kernel makes LLVM 15 fail an
    assertion): the BSDF times the radiance of a path of `max_depth` (0: an empty path) leaving
    x along w (wo: w in the shading frame). On the outline of the emitter shape `edge_emitter`
    (-1: none), that shape's emission at the path's first hit counts with the MIS weight of x's
    BSDF sample: the emitter sample's share of its change is the interior terms' (its geometry
    term, in area measure, over the emitter's fixed surface). Other emitters seen past the
    outline count in full (their emitter samples' visibility jumps there)."""
    value = vec3(0.0)
    if wi.z > 0.0 and wo.z > 0.0 and sc.bsdf_i[b, L.BI_TYPE] == L.BSDF_DIFFUSE:
        value = tex0 * (wo.z * INV_PI)
    st = path_start(spawn_origin(x, ng, w), w, INF, max_depth)
    depth = 0
    while st.alive:
        hit = trace(sc, st.o, st.d, st.tmax, False)
        if depth == 0 and edge_emitter >= 0 and hit.prim >= 0:
            ref = sc.prim[hit.prim]
            shape = ref.y
            if ref.x == L.PRIM_TRIANGLE:
                shape = sc.tri_v[ref.y].w
            if shape == edge_emitter:
                st.prev_p = x
                st.prev_pdf = ti.max(wo.z, 0.0) * INV_PI
                if ref.x == L.PRIM_SPHERE:
                    # a sphere's outline is where its emitter samples' density in solid angle
                    # grows without bound: the BSDF sample's weight there is 0 (a hair inside
                    # it, seen from close by, it is not)
                    st.prev_pdf = 0.0
                st.prev_delta = 0
        st = traced_vertex(sc, ad, key, depth, st, hit, max_depth, rr_depth, 0, vec3(0.0), vec3(0.0), 0, 0,
                           MODE_PRIMAL)
        depth += 1
    g = value * st.gathered
    if not (g.x == g.x and g.y == g.y and g.z == g.z):
        g = vec3(0.0)
    return g


PathVertex = ti.types.struct(found=ti.i32, p=vec3, n=vec3, sh_n=vec3, uv=vec2, d=vec3, beta=vec3, bsdf=ti.i32,
                             flip=ti.f32, tri=ti.i32, bary=vec2)


@ti.func
def triangle_moves(sc: ti.template(), moving_vtx: ti.template(), tri: ti.i32) -> ti.i32:
    """Whether triangle `tri` (-1: none) has a moving vertex (`moving_vtx`: (V,) int32, 1 where
    the vertex moves)."""
    moves = 0
    if tri >= 0:
        tv = sc.tri_v[tri]
        moves = moving_vtx[tv.x] | moving_vtx[tv.y] | moving_vtx[tv.z]
    return moves


@ti.func
def camera_path_start(sc: ti.template(), accum: ti.template(), seed: ti.u32, i: ti.i32, spp: ti.i32, border: ti.i32,
                      stream: ti.u32):
    """Camera path i of `spp` per pixel (pixel i // spp of the film enlarged by `border` pixels on
    each side, row major): its random key (sample index xor `stream`), film position (pixels),
    and camera ray (o, d, tmax)."""
    width = accum.shape[1] + 2 * border
    pixel = i // spp
    y = pixel // width - border
    x_px = pixel - (y + border) * width - border
    key = rng.sample_key(seed, ti.cast(pixel, ti.u32), ti.cast(i - pixel * spp, ti.u32) ^ stream)
    pos = vec2(x_px, y) + rng.rand2(key, rng.DIM_FILM)
    crop = L.CAM_CROP
    film_uv = vec2((pos.x + sc.cam[crop]) / sc.cam[crop + 2], (pos.y + sc.cam[crop + 1]) / sc.cam[crop + 3])
    o, d, tmax = camera_ray(sc, film_uv)
    return key, pos, o, d, tmax


@ti.func
def path_vertex_at(sc: ti.template(), ad: ti.template(), key: ti.u32, k: ti.i32, o: vec3, d: vec3, tmax: ti.f32,
                   max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32) -> PathVertex:
    """Vertex k (0: the camera ray's hit) of the primal path from (o, d) with `key`: its point,
    normals, uv, incoming direction, throughput up to it, leaf BSDF and side flag, and the
    triangle and barycentrics it lies on (tri -1: another shape); `found` when the path reaches
    it and scatters there with a smooth lobe."""
    st = path_start(o, d, tmax, max_depth)
    depth = 0
    x = PathVertex(found=0, p=vec3(0.0), n=vec3(0.0), sh_n=vec3(0.0), uv=vec2(0.0), d=vec3(0.0), beta=vec3(0.0),
                   bsdf=0, flip=1.0, tri=-1, bary=vec2(0.0))
    while st.alive:
        hit = trace(sc, st.o, st.d, st.tmax, False)
        if depth == k:
            si, scatters, b, flip, _ = vertex_setup(sc, key, depth, st, hit, max_depth)
            if scatters and has_smooth_lobe(sc, b):
                x.found = 1
            x.p, x.n, x.sh_n, x.uv, x.d, x.beta = si.p, si.n, si.sh_n, si.uv, st.d, st.throughput
            x.bsdf = b
            x.flip = flip
            if hit.prim >= 0:
                ref = sc.prim[hit.prim]
                if ref.x == L.PRIM_TRIANGLE:
                    x.tri = ref.y
                    x.bary = vec2(hit.b1, hit.b2)
            st.alive = 0
        else:
            st = traced_vertex(sc, ad, key, depth, st, hit, max_depth, rr_depth, hide_emitters, vec3(0.0),
                               vec3(0.0), 0, 0, MODE_PRIMAL)
            depth += 1
    return x


@ti.func
def pick_path_vertex(sc: ti.template(), ad: ti.template(), key: ti.u32, o: vec3, d: vec3, tmax: ti.f32,
                     max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32):
    """One vertex of the camera path from (o, d), drawn uniformly among the first n (the path's
    bounces, or MAX_UNBOUNDED_VERTICES): (k, n, path_vertex_at's vertex k). One vertex per path,
    weighted n, so that the two continuation paths run after the camera path's loop."""
    n_vertices = MAX_UNBOUNDED_VERTICES
    if max_depth > 0:
        n_vertices = max_depth - 1
    k = ti.min(ti.cast(rng.rand(key, rng.DIM_FILM + 2) * n_vertices, ti.i32), n_vertices - 1)
    return k, n_vertices, path_vertex_at(sc, ad, key, k, o, d, tmax, max_depth, rr_depth, hide_emitters)


@ti.func
def across_boundary(sc: ti.template(), ad: ti.template(), key: ti.u32, k: ti.i32, x: PathVertex, m: vec3, e: vec3,
                    candidate: ti.i32, max_depth: ti.i32, rr_depth: ti.i32, edge_emitter: ti.i32, stream: ti.u32):
    """The jump of g across a boundary through the point m with unit tangent e, as seen from
    the path's vertex k, x: (active, g⁻ - g⁺, rate). g± come from two continuation paths of the
    remaining depth (random key from `key`, k and `stream`) a hair to either side, g⁺ on the side
    of ω × e; `rate` = (ω × e) / r² turns the motion of m relative to x (m' - x', x moving along
    its ray) into the boundary's speed per unit length. `active` when `candidate` and the
    boundary is not seen edge-on; the paths are empty otherwise."""
    v = m - x.p
    r2 = v.dot(v)
    w = vec3(0.0, 0.0, 1.0)
    cross = vec3(0.0)
    c_len = 0.0
    if r2 > 1e-12:
        w = v / ti.sqrt(r2)
        cross = w.cross(e)
        c_len = cross.norm()
    active = candidate and c_len > 1e-6
    side = cross / ti.max(c_len, 1e-6)
    # the continuation rays leave from x's spawned origin (_integrand's): aimed from it, they pass
    # the boundary on either side however close it is (the origin's offset, ~1e-4, exceeds the
    # rays' SIDE_ANGLE spread at distances under ~1)
    aimed = m - spawn_origin(x.p, x.n, w)
    if aimed.dot(aimed) > 1e-12:
        w = aimed.normalized()
    frame = frame_from_normal(x.sh_n * x.flip)
    wi = frame @ (-x.d)
    tex0, tex1 = slot_textures(sc, x.bsdf, x.uv)
    sub_depth = 0
    if active:
        sub_depth = -1
        if max_depth > 0:
            sub_depth = max_depth - k - 1
    sub_rr = ti.max(rr_depth - k - 1, 1)
    pkey = rng.sample_key(key, ti.u32(k), stream)
    w_minus = (w - SIDE_ANGLE * side).normalized()
    w_plus = (w + SIDE_ANGLE * side).normalized()
    g_minus = _integrand(sc, ad, pkey, x.p, x.n, frame @ w_minus, x.bsdf, tex0, tex1, wi, w_minus, sub_depth, sub_rr,
                         edge_emitter)
    g_plus = _integrand(sc, ad, pkey, x.p, x.n, frame @ w_plus, x.bsdf, tex0, tex1, wi, w_plus, sub_depth, sub_rr,
                        edge_emitter)
    return active, g_minus - g_plus, cross / ti.max(r2, 1e-12)


@ti.func
def indirect_edge_sample(sc: ti.template(), ad: ti.template(), grad_vtx: ti.template(), tan_vtx: ti.template(),
                         edge3_p: ti.template(), edge3_i: ti.template(), cdf: ti.template(),
                         moving_vtx: ti.template(), n_moving: ti.i32, accum: ti.template(), weight: ti.template(),
                         image_grad: ti.template(), mode: ti.template(), seed: ti.u32, i: ti.i32, spp: ti.i32,
                         scale_moving: ti.f32, scale_all: ti.f32, max_depth: ti.i32, rr_depth: ti.i32,
                         hide_emitters: ti.i32, rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32,
                         border: ti.i32):
    """Camera path i (pixel i // spp of the film enlarged by `border` pixels on each side, row
    major): the boundary term at one of its vertices, drawn uniformly."""
    key, pos, o, d, tmax = camera_path_start(sc, accum, seed, i, spp, border, INDIRECT_STREAM)
    k, n_vertices, x = pick_path_vertex(sc, ad, key, o, d, tmax, max_depth, rr_depth, hide_emitters)
    xp, xd, xtri, xbary = x.p, x.d, x.tri, x.bary
    # a point on a moving triangle sees every edge move (static ones too): it samples all edges,
    # other points the moving ones (edge_table_3d's two CDFs)
    x_moves = triangle_moves(sc, moving_vtx, xtri)
    lo, hi, scale = 0, n_moving - 1, scale_moving
    if x_moves:
        lo, hi, scale = n_moving, cdf.shape[0] - 1, scale_all
    ekey = rng.sample_key(key, ti.u32(k), ti.u32(INDIRECT_STREAM + 1))
    e = pick_edge_between(cdf, lo, hi, rng.rand(ekey, 0)) - lo
    t = rng.rand(ekey, 1)
    p0 = edge3_p[e, 0]
    p1 = edge3_p[e, 1]
    m = p0 + t * (p1 - p0)
    f0 = edge3_i[e, E3_F0]
    f1 = edge3_i[e, E3_F1]
    flags = edge3_i[e, E3_FLAGS]
    front0 = _faces_x(sc, f0, xp)
    front1 = 0
    if f1 >= 0:
        front1 = _faces_x(sc, f1, xp)
    jump = (flags & EDGE_ALWAYS) != 0 or front0 != front1 or ((flags & EDGE_CREASE) != 0 and (front0 or front1))
    edge_emitter = -1  # the emitter shape whose outline the edge is
    if (flags & EDGE_EMITTER) != 0:
        edge_emitter = sc.tri_v[f0].w
        if sc.shape_i[edge_emitter, L.SI_EMITTER] < 0 and f1 >= 0:
            edge_emitter = sc.tri_v[f1].w
    active, diff, rate = across_boundary(sc, ad, key, k, x, m, (p1 - p0).normalized(), x.found and jump, max_depth,
                                         rr_depth, edge_emitter, INDIRECT_STREAM + 2)
    if active:
        if diff.max() != 0.0 or diff.min() != 0.0:
            # the end vertices as the face turned to x indexes them
            ends = E3_ENDS
            if f1 >= 0 and front1 and not front0:
                ends = E3_ENDS + 2
            va = edge3_i[e, ends]
            vb = edge3_i[e, ends + 1]
            value = x.beta * diff * (scale * n_vertices)
            if ti.static(mode == MODE_ADJOINT):
                c = boundary_adjoint(image_grad, pos, value, rfilter, filter_radius, filter_stddev)
                if c != 0.0:
                    if e < n_moving:
                        ti.atomic_add(grad_vtx[va], c * (1.0 - t) * rate)
                        ti.atomic_add(grad_vtx[vb], c * t * rate)
                    if x_moves:
                        triangle_scatter(sc, ad, xtri, xbary, xd, 1, -c * rate, vec3(0.0))
            else:
                speed = rate.dot((1.0 - t) * tan_vtx[va] + t * tan_vtx[vb])
                if x_moves:
                    dx, _ = triangle_tangent(sc, ad, xtri, xbary, xd, 1)
                    speed -= rate.dot(dx)
                splat_boundary_term(accum, weight, pos, value * speed, rfilter, filter_radius, filter_stddev)


@ti.kernel
def indirect_edges_kernel(
    scene: SceneArrays,
    grad_vtx: V3_1, tan_vtx: V3_1,
    edge3_p: V3_2, edge3_i: I_2, cdf: F_1, moving_vtx: I_1, n_moving: ti.i32,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), mode: ti.template(), seed: ti.u32, spp: ti.i32, scale_moving: ti.f32,
    scale_all: ti.f32,
    max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32,
    rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32, border: ti.i32,
):
    """`spp` camera paths per pixel, each adding the indirect boundary term at one vertex
    (adjoint: into `grad_vtx`; forward: onto the film). `cdf`, `n_moving`: EdgeTable3D's;
    `moving_vtx`: (V,) 1 for the vertices that move; `scale_moving`, `scale_all`: the moving and
    the total edge length / spp / the filter's integral; `border`: pixels the film samples
    around the image (`sample_border`), whose paths count too."""
    for i in range((accum.shape[0] + 2 * border) * (accum.shape[1] + 2 * border) * spp):
        indirect_edge_sample(
            SceneView(features, scene),
            ADView(grad_vtx, grad_vtx, grad_vtx, cdf, tan_vtx, tan_vtx, tan_vtx, cdf),
            grad_vtx, tan_vtx, edge3_p, edge3_i, cdf, moving_vtx, n_moving, accum, weight, image_grad, mode, seed,
            i, spp, scale_moving, scale_all,
            max_depth, rr_depth, hide_emitters, rfilter, filter_radius, filter_stddev, border,
        )
