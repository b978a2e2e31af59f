"""Primary visibility: the boundary term of vertex-position derivatives at silhouettes and
creases seen by the camera (edge sampling, Li et al. 2018, "Differentiable Monte Carlo Ray
Tracing through Edge Sampling"), for the projective integrators.

A pixel's value is an integral over the image plane, I = ∫ k(x) L(x) dx (k: the reconstruction
filter, normalised). Where L jumps across the image of a mesh edge that moves with the
parameters, the derivative has a term on the edge besides the interior one (which `prb`
computes on fixed rays):

    dI/dθ = ∫_edge k(x) (L⁻(x) - L⁺(x)) (n · dx/dθ) dℓ

with n the edge's unit normal in the image plane, L⁺ the radiance just on its side and L⁻ on
the other. The image of a straight edge is straight, and the normal motion of its points is
affine along it, so with the projected end points a, b and x = a + s (b - a):
n · dx/dθ = (1 - s) n · J_a dv_a/dθ + s n · J_b dv_b/dθ (J: the projection's Jacobian).

The host (`edge_table`) lists, for the current vertex positions and camera, the edges that can
carry a jump: silhouettes (one adjacent face turned to the camera, the other away), boundary
and non-manifold edges (which include the seams of meshes whose vertices are not shared, such
as cubes), and creases between faces of meshes shaded with face normals; projects them, clips
them to the film and keeps `w = Jᵀ n` for both end points. The kernel samples points on them in
proportion to their length on the film, estimates L⁺ and L⁻ with two paths (the same random
numbers) through film points a hair to either side, and scatters (reverse mode) or gathers
(forward mode) the term. Edges hidden behind other surfaces cost samples but add nothing: both
paths see the same occluder. Edges with an end point behind the camera's near plane are left
out.

The integral runs over where the film takes samples: the film itself, or with the film's
`sample_border` (Mitsuba's) the film and a border of the filter's `border_size`
(ceil(radius - 0.5) pixels, 2 for the default Gaussian) around it, where samples reach the
outer pixels through the filter. Edges are clipped to that rectangle, so that a shape entering
the image from outside moves the outer pixels as the samples see it. Without `sample_border`
an outer pixel gets filtered samples from inside the film only: its value does not change while
a shape moves outside the film, and the term (clipped to the film) is zero there too; the
term is divided by the filter's full integral, where such a pixel's samples weigh less (by up
to 1/2 along a side for the Gaussian), so outer pixels' boundary terms are too small by that
ratio (Mitsuba's projective integrators warn and recommend `sample_border`). With a box filter
(radius 0.5) the border is empty and the option changes nothing.
"""


import math

import numpy as np
import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.camera import camera_ray, gaussian_weight
from ..device.derivatives import MODE_ADJOINT, MODE_PRIMAL, ADView
from ..device.path_tracer import path_sample
from ..view import F_1, F_2, I_2, IMG, V3_1, SceneArrays, SceneView

vec2 = ti.math.vec2
vec3 = ti.math.vec3

# edge_f columns: a (2), b (2), s0, s1 (the film part of the edge), w_a (3), w_b (3)
EF_A, EF_B, EF_S0, EF_S1, EF_WA, EF_WB, EF_WIDTH = 0, 2, 4, 5, 6, 9, 12
SIDE_OFFSET = 1e-3  # pixels between the edge and the film points of L+ and L-
EDGE_STREAM = 0x5EED0E06  # sample index of the edge samples' random keys (apart from pixels')


class EdgeTopology:
    """The unique edges of the scene's triangles and their adjacent faces, computed once per
    packed scene. Vertices at the same position are one (a cube's corners, the seams of a mesh
    with texture coordinates), so that an edge between two faces is found as such and not as
    two coincident boundary edges, whose jump would be counted twice.

    Attributes:
        faces: (E, 2) int64 adjacent triangles; the second is -1 for a boundary edge; both are
            the first two of a non-manifold edge (more than two faces, `non_manifold`).
        ends: (E, 2, 2) int64 the edge's end vertices as each of the two faces indexes them
            (the same for a boundary edge): gradients go to the vertices of the visible face.
    """

    def __init__(self, tri_v: np.ndarray, positions: np.ndarray):
        tri = np.asarray(tri_v, np.int64)[:, :3]
        _, canon = np.unique(np.asarray(positions, np.float32), axis=0,
                             return_inverse=True)
        canon = canon.reshape(-1)
        n_tri = len(tri)
        ends = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
        owner = np.tile(np.arange(n_tri), 3)
        c = canon[ends]
        swap = c[:, 0] > c[:, 1]
        c[swap] = c[swap][:, ::-1]
        ends[swap] = ends[swap][:, ::-1]
        order = np.lexsort((c[:, 1], c[:, 0]))
        c, ends, owner = c[order], ends[order], owner[order]
        starts = np.flatnonzero(np.r_[True, np.any(c[1:] != c[:-1], axis=1)])
        counts = np.diff(np.r_[starts, len(c)])
        second = np.where(counts >= 2, starts + 1, starts)
        self.faces = np.stack([owner[starts], np.where(counts >= 2, owner[second], -1)], axis=1)
        self.ends = np.stack([ends[starts], ends[second]], axis=1)
        self.non_manifold = counts > 2


def _project(cam: np.ndarray, points: np.ndarray):
    """Film positions (pixels of the crop window) of world points (N, 3), their depth along the
    view axis, and the Jacobians d pos / d point (N, 2, 3). Inverse of camera.camera_ray."""
    m = cam[L.CAM_TO_WORLD : L.CAM_TO_WORLD + 12].astype(np.float64).reshape(3, 4)
    rot, origin = m[:, :3], m[:, 3]
    q = (points - origin) @ rot  # camera-local coordinates (rotation columns are the axes)
    tan_x, tan_y = float(cam[L.CAM_TAN_X]), float(cam[L.CAM_TAN_Y])
    ox, oy, full_w, full_h = (float(v) for v in cam[L.CAM_CROP : L.CAM_CROP + 4])
    z = q[:, 2]
    safe = np.where(np.abs(z) > 1e-12, z, 1e-12)
    kx = -full_w / (2.0 * tan_x)
    ky = -full_h / (2.0 * tan_y)
    pos = np.stack([(0.5 + kx / full_w * q[:, 0] / safe) * full_w - ox,
                    (0.5 + ky / full_h * q[:, 1] / safe) * full_h - oy], axis=1)
    # d(q_x / q_z)/dP = (rot[:, 0] - (q_x / q_z) rot[:, 2]) / q_z
    jx = kx * (rot[:, 0][None, :] - (q[:, 0] / safe)[:, None] * rot[:, 2][None, :]) / safe[:, None]
    jy = ky * (rot[:, 1][None, :] - (q[:, 1] / safe)[:, None] * rot[:, 2][None, :]) / safe[:, None]
    return pos, z, np.stack([jx, jy], axis=1)


def _clip_to_film(a: np.ndarray, b: np.ndarray, width: int, height: int, margin=(0.0, 0.0, 0.0, 0.0)):
    """Liang-Barsky: the parameter range [s0, s1] of the segments a + s (b - a) inside the film
    rectangle [-left, width + right] x [-top, height + bottom], margin = (left, right, top,
    bottom) in pixels: 0 (the film) unless the film samples a border (`sample_border`), then its
    border's width (s0 > s1 where a segment misses it)."""
    left, right, top, bottom = margin
    d = b - a
    s0 = np.zeros(len(a))
    s1 = np.ones(len(a))
    for p, q in ((-d[:, 0], a[:, 0] + left), (d[:, 0], width + right - a[:, 0]), (-d[:, 1], a[:, 1] + top),
                 (d[:, 1], height + bottom - a[:, 1])):
        parallel = np.abs(p) < 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            r = q / np.where(parallel, 1.0, p)
        s0 = np.where(~parallel & (p < 0), np.maximum(s0, r), s0)
        s1 = np.where(~parallel & (p > 0), np.minimum(s1, r), s1)
        outside = parallel & (q < 0)
        s1 = np.where(outside, -1.0, s1)
    return s0, s1


def edge_table(topology: EdgeTopology, positions: np.ndarray, tri_v: np.ndarray, flat_shapes: np.ndarray,
               cam: np.ndarray, width: int, height: int, moving: np.ndarray | None = None,
               margin=(0.0, 0.0, 0.0, 0.0)):
    """The sampled edges for the current positions and camera.

    Args:
        topology: the scene's `EdgeTopology`.
        positions: (V, 3) world-space vertex positions.
        tri_v: (T, 4) vertex indices and shape of each triangle.
        flat_shapes: (S,) bool, shapes shaded with face normals (their creases are jumps).
        cam: the `cam` array of the sensor (layout.py).
        width, height: the film (crop window) size in pixels.
        moving: (V,) bool, the vertices whose derivatives are wanted: edges with neither end
            among them add nothing and are left out (default: all vertices).
        margin: (left, right, top, bottom) pixels around the film where it takes samples
            (`sample_border`: the filter's border, else 0): edges are clipped to that rectangle.

    Returns:
        (edge_f (K, EF_WIDTH) float32, edge_v (K, 2) int32, cdf (K,) float32 normalised, total
        length in pixels), or None when no edge is seen.
    """
    p = np.asarray(positions, np.float64)
    tri = np.asarray(tri_v, np.int64)
    corners = p[tri[:, :3]]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    eye = cam[L.CAM_TO_WORLD : L.CAM_TO_WORLD + 12].astype(np.float64).reshape(3, 4)[:, 3]
    facing = np.einsum("ij,ij->i", normal, eye - corners[:, 0]) > 0
    f0, f1 = topology.faces[:, 0], topology.faces[:, 1]
    two = f1 >= 0
    g1 = np.maximum(f1, 0)
    silhouette = two & (facing[f0] != facing[g1])
    n0 = normal[f0] / np.maximum(np.linalg.norm(normal[f0], axis=1, keepdims=True), 1e-30)
    n1 = normal[g1] / np.maximum(np.linalg.norm(normal[g1], axis=1, keepdims=True), 1e-30)
    crease = (two & flat_shapes[tri[f0, 3]] & (np.einsum("ij,ij->i", n0, n1) < 1.0 - 1e-6)
              & (facing[f0] | facing[g1]))
    keep = ~two | topology.non_manifold | silhouette | crease
    if moving is not None:
        keep &= moving[topology.ends[:, 0, 0]] | moving[topology.ends[:, 0, 1]]
    # the end vertices as the face turned to the camera indexes them
    use_second = two & facing[g1] & ~facing[f0]
    edges = np.where(use_second[:, None], topology.ends[:, 1], topology.ends[:, 0])[keep]
    if len(edges) == 0:
        return None
    pa, za, ja = _project(cam, p[edges[:, 0]])
    pb, zb, jb = _project(cam, p[edges[:, 1]])
    near = float(cam[L.CAM_NEAR])
    d = pb - pa
    length = np.linalg.norm(d, axis=1)
    s0, s1 = _clip_to_film(pa, pb, width, height, margin)
    seen = (za > near) & (zb > near) & (length > 1e-9) & (s1 > s0)
    if not np.any(seen):
        return None
    pa, pb, ja, jb, d, length, s0, s1, edges = (x[seen] for x in (pa, pb, ja, jb, d, length, s0, s1, edges))
    n = np.stack([-d[:, 1], d[:, 0]], axis=1) / length[:, None]
    edge_f = np.zeros((len(edges), EF_WIDTH), np.float32)
    edge_f[:, EF_A : EF_A + 2] = pa
    edge_f[:, EF_B : EF_B + 2] = pb
    edge_f[:, EF_S0] = s0
    edge_f[:, EF_S1] = s1
    edge_f[:, EF_WA : EF_WA + 3] = np.einsum("eij,ei->ej", ja, n)
    edge_f[:, EF_WB : EF_WB + 3] = np.einsum("eij,ei->ej", jb, n)
    on_film = (s1 - s0) * length
    total = float(on_film.sum())
    cdf = (np.cumsum(on_film) / total).astype(np.float32)
    cdf[-1] = 1.0
    return edge_f, edges.astype(np.int32), cdf, total


def filter_normalisation(rfilter: int, radius: float, stddev: float) -> float:
    """∫ k over the image plane (pixels²) of the unnormalised filter the film uses: 1 for the
    box, the square of the 1D truncated Gaussian's integral otherwise."""
    if rfilter == L.RFILTER_BOX:
        return 1.0
    t = np.linspace(-radius, radius, 4001)
    alpha = -1.0 / (2.0 * stddev * stddev)
    g = np.maximum(0.0, np.exp(alpha * t * t) - math.exp(alpha * radius * radius))
    return float(np.trapezoid(g, t) ** 2)


@ti.func
def pick_edge(cdf: ti.template(), u: ti.f32) -> ti.i32:
    """The first row of `cdf` at or above u (binary search)."""
    return pick_edge_between(cdf, 0, cdf.shape[0] - 1, u)


@ti.func
def pick_edge_between(cdf: ti.template(), lo: ti.i32, hi: ti.i32, u: ti.f32) -> ti.i32:
    """The first row of `cdf` in [lo, hi] at or above u (binary search; rows lo to hi hold one
    CDF, ending at 1)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return lo


@ti.func
def _radiance(sc: ti.template(), ad: ti.template(), key: ti.u32, pos: vec2, int_a: ti.i32, int_b: ti.i32,
              hide_emitters: ti.i32) -> vec3:
    crop = L.CAM_CROP
    film_uv = vec2((pos.x + sc.cam[crop]) / sc.cam[crop + 2], (pos.y + sc.cam[crop + 1]) / sc.cam[crop + 3])
    o, d, tmax = camera_ray(sc, film_uv)
    radiance, _ = path_sample(sc, ad, key, o, d, tmax, int_a, int_b, hide_emitters, vec3(0.0), MODE_PRIMAL)
    if not (radiance.x == radiance.x and radiance.y == radiance.y and radiance.z == radiance.z):
        radiance = vec3(0.0)
    return radiance


@ti.func
def edge_sample(sc: ti.template(), ad: ti.template(), grad_vtx: ti.template(), tan_vtx: ti.template(),
                edge_f: ti.template(), edge_v: ti.template(), cdf: ti.template(), accum: ti.template(),
                weight: ti.template(), image_grad: ti.template(), mode: ti.template(), seed: ti.u32, i: ti.i32,
                scale: ti.f32, int_a: ti.i32, int_b: ti.i32, hide_emitters: ti.i32, rfilter: ti.i32,
                filter_radius: ti.f32, filter_stddev: ti.f32):
    """Edge sample i: pick an edge and a point on its film part, estimate L- - L+ there, and
    scatter or gather the boundary term through the filter."""
    key = rng.sample_key(seed, ti.cast(i, ti.u32), ti.u32(EDGE_STREAM))
    e = pick_edge(cdf, rng.rand(key, 0))
    a = vec2(edge_f[e, EF_A], edge_f[e, EF_A + 1])
    b = vec2(edge_f[e, EF_B], edge_f[e, EF_B + 1])
    s0 = edge_f[e, EF_S0]
    s = s0 + (edge_f[e, EF_S1] - s0) * rng.rand(key, 1)
    pos = a + s * (b - a)
    n = vec2(a.y - b.y, b.x - a.x).normalized()
    path_key = rng.sample_key(seed, ti.cast(i, ti.u32), ti.u32(EDGE_STREAM + 1))
    diff = (_radiance(sc, ad, path_key, pos - SIDE_OFFSET * n, int_a, int_b, hide_emitters)
            - _radiance(sc, ad, path_key, pos + SIDE_OFFSET * n, int_a, int_b, hide_emitters))
    wa = vec3(edge_f[e, EF_WA], edge_f[e, EF_WA + 1], edge_f[e, EF_WA + 2])
    wb = vec3(edge_f[e, EF_WB], edge_f[e, EF_WB + 1], edge_f[e, EF_WB + 2])
    apply_boundary_term(grad_vtx, tan_vtx, accum, weight, image_grad, mode, pos, diff * scale,
                        edge_v[e, 0], edge_v[e, 1], (1.0 - s) * wa, s * wb, rfilter, filter_radius, filter_stddev)


@ti.func
def apply_boundary_term(grad_vtx: ti.template(), tan_vtx: ti.template(), accum: ti.template(),
                        weight: ti.template(), image_grad: ti.template(), mode: ti.template(), pos: vec2,
                        value: vec3, va: ti.i32, vb: ti.i32, wa: vec3, wb: vec3, rfilter: ti.i32,
                        filter_radius: ti.f32, filter_stddev: ti.f32):
    """One boundary-term sample at film position `pos`, through the pixel filter: its radiance
    `value` moves with the end vertices va, vb at the rates wa, wb (value * (wa . dva + wb . dvb)).
    Adjoint: add (pixel adjoints . value) wa (and wb) to the vertex gradients; forward: add
    value (wa . tan_a + wb . tan_b) to the film (`splat_boundary_term`)."""
    if ti.static(mode == MODE_ADJOINT):
        c = boundary_adjoint(image_grad, pos, value, rfilter, filter_radius, filter_stddev)
        if c != 0.0:
            ti.atomic_add(grad_vtx[va], c * wa)
            ti.atomic_add(grad_vtx[vb], c * wb)
    else:
        speed = wa.dot(tan_vtx[va]) + wb.dot(tan_vtx[vb])
        splat_boundary_term(accum, weight, pos, value * speed, rfilter, filter_radius, filter_stddev)


@ti.func
def boundary_adjoint(image_grad: ti.template(), pos: vec2, value: vec3, rfilter: ti.i32, filter_radius: ti.f32,
                     filter_stddev: ti.f32) -> ti.f32:
    """The adjoint of a boundary-term sample of radiance `value` at film position `pos`: the sum
    over the pixels of the filter's footprint of k (pixel adjoint . value), k the filter weight."""
    r, x0, y0 = _footprint(pos, rfilter, filter_radius)
    c = 0.0
    for dy, dx in ti.ndrange((-r, r + 1), (-r, r + 1)):
        px = x0 + dx
        py = y0 + dy
        if 0 <= px < image_grad.shape[1] and 0 <= py < image_grad.shape[0]:
            c += image_grad[py, px].dot(value) * _filter_weight(pos, px, py, rfilter, filter_radius, filter_stddev)
    return c


@ti.func
def splat_boundary_term(accum: ti.template(), weight: ti.template(), pos: vec2, value: vec3, rfilter: ti.i32,
                        filter_radius: ti.f32, filter_stddev: ti.f32):
    """Forward mode: add a boundary-term sample's derivative `value` at film position `pos` to
    the film through the pixel filter, times each pixel's weight (develop divides by it)."""
    r, x0, y0 = _footprint(pos, rfilter, filter_radius)
    for dy, dx in ti.ndrange((-r, r + 1), (-r, r + 1)):
        px = x0 + dx
        py = y0 + dy
        if 0 <= px < accum.shape[1] and 0 <= py < accum.shape[0]:
            k = _filter_weight(pos, px, py, rfilter, filter_radius, filter_stddev)
            if k > 0.0:
                ti.atomic_add(accum[py, px], value * (k * weight[py, px]))


@ti.func
def _footprint(pos: vec2, rfilter: ti.i32, filter_radius: ti.f32):
    """The pixels a sample at film position `pos` reaches: (radius in pixels r, pixel x0, y0);
    the footprint is x0 - r to x0 + r by y0 - r to y0 + r."""
    r = 0
    if rfilter != L.RFILTER_BOX:
        r = ti.cast(ti.ceil(filter_radius - 0.5), ti.i32)
    return r, ti.cast(ti.floor(pos.x), ti.i32), ti.cast(ti.floor(pos.y), ti.i32)


@ti.func
def _filter_weight(pos: vec2, px: ti.i32, py: ti.i32, rfilter: ti.i32, filter_radius: ti.f32,
                   filter_stddev: ti.f32) -> ti.f32:
    """The pixel filter's weight of pixel (px, py) for a sample at `pos` (1 for the box filter)."""
    k = 1.0
    if rfilter != L.RFILTER_BOX:
        k = gaussian_weight(px + 0.5 - pos.x, filter_stddev, filter_radius) * gaussian_weight(
            py + 0.5 - pos.y, filter_stddev, filter_radius)
    return k


@ti.kernel
def primary_edges_kernel(
    scene: SceneArrays,
    grad_vtx: V3_1, tan_vtx: V3_1,
    edge_f: F_2, edge_v: I_2, cdf: F_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), mode: ti.template(), seed: ti.u32, n_samples: ti.i32, scale: ti.f32,
    int_a: ti.i32, int_b: ti.i32, hide_emitters: ti.i32,
    rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32,
):
    """`n_samples` edge samples. Adjoint: add the boundary term's vertex gradients to
    `grad_vtx` (rows of positions), reading the pixel adjoints `image_grad`. Forward: add the
    term along the positions' tangents `tan_vtx` to the film (`accum`, times the pixel's
    `weight`, which develop divides by). `scale`: total edge length on the film / n_samples /
    the filter's integral."""
    for i in range(n_samples):
        edge_sample(
            SceneView(features, scene),
            ADView(grad_vtx, grad_vtx, grad_vtx, cdf, tan_vtx, tan_vtx, tan_vtx, cdf),
            grad_vtx, tan_vtx, edge_f, edge_v, cdf, accum, weight, image_grad, mode, seed, i, scale,
            int_a, int_b, hide_emitters, rfilter, filter_radius, filter_stddev,
        )


def edge_samples_per_pixel(integrator, spp: int) -> int:
    """`sppp` of a projective integrator, else the render's spp."""
    value = getattr(integrator, "sppp", None)
    return spp if value is None else int(value)
