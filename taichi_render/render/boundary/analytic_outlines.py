"""Indirect visibility at the outlines of analytic shapes: the boundary term of vertex-position
derivatives where a moving path vertex sees a sphere's or a disk's outline move across what lies
behind it (a sky or another light hidden by a sphere light, a shadow cast by a disk), for the
projective integrators.

Spheres and disks do not move (their parameters are not differentiable), so their outlines move
only as seen from a vertex x on a moving triangle. indirect_edges.py's term applies with m' = 0,

    ∫_outline (g⁻(ω) - g⁺(ω)) (-x' · (ω × e)) / r² dℓ,

over the outline as seen from x, with unit tangent e:
- a sphere (centre c, radius R) at distance d = |x - c| > R: the circle of the points where the
  rays from x graze it, centre c + (x - c) R² / d², radius R √(1 - R² / d²), in the plane normal
  to x - c. It depends on x, but to first order only its motion across ω counts: the sphere's
  tangent plane at m turns about the ray, so the grazing direction moves like that of a static
  edge through m along e.
- a disk: its rim, the image of the unit circle under `to_world`.
Each camera path (`sppi` per pixel) draws one vertex as the indirect edges do, and where it lies
on a moving triangle one analytic shape (uniformly) and one point of its outline (uniform in
angle, weighted by the outline's length per radian), and evaluates g± with two continuation
paths. On an emitter's own outline the emission counts with the MIS weight of x's BSDF sample
(indirect_edges._integrand); the emitter sample's integrand is continuous there (a sphere's
emission falls to zero at grazing, a disk's rim is fixed in area measure).
"""

import math

import numpy as np
import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.derivatives import MODE_ADJOINT, ADView
from ..device.frame import frame_from_normal
from ..device.intersect import affine_point, affine_vector, sphere_center
from ..device.shape_derivatives import triangle_scatter, triangle_tangent
from ..view import I_1, IMG, V3_1, SceneArrays, SceneView
from .indirect_edges import across_boundary, camera_path_start, pick_path_vertex, triangle_moves
from .primary_edges import boundary_adjoint, splat_boundary_term

vec3 = ti.math.vec3

OUTLINE_STREAM = 0x0C7E11  # sample index of the outline samples' random keys
GRAZING_MARGIN = 1e-4  # relative: a point closer to a sphere than R (1 + margin) sees no outline


def analytic_rows(shape_i: np.ndarray) -> np.ndarray:
    """The rows of `shape_i` ((S, SI_WIDTH) int32) that are spheres or disks, (A,) int32."""
    kind = shape_i[:, L.SI_TYPE]
    return np.flatnonzero((kind == L.PRIM_SPHERE) | (kind == L.PRIM_DISK)).astype(np.int32)


@ti.func
def outline_point(sc: ti.template(), s: ti.i32, x: vec3, u: ti.f32):
    """The point at angle 2πu on the outline of analytic shape `s` as seen from x: (seen, m,
    unit tangent e, length per unit of u). Not seen from inside a sphere or on it."""
    phi = 2.0 * math.pi * u
    cos_phi, sin_phi = ti.cos(phi), ti.sin(phi)
    seen = 0
    m = vec3(0.0)
    e = vec3(1.0, 0.0, 0.0)
    length = 0.0
    if sc.shape_i[s, L.SI_TYPE] == L.PRIM_SPHERE:
        c = sphere_center(sc, s)
        radius = sc.shape_f[s, L.SF_RADIUS]
        a = x - c
        d2 = a.dot(a)
        if d2 > (radius * (1.0 + GRAZING_MARGIN)) ** 2:
            dist = ti.sqrt(d2)
            axis = a / dist
            rho = radius * ti.sqrt(1.0 - radius * radius / d2)
            f = frame_from_normal(axis)
            radial = cos_phi * f[0, :] + sin_phi * f[1, :]
            m = c + axis * (radius * radius / dist) + rho * radial
            e = -sin_phi * f[0, :] + cos_phi * f[1, :]
            length = 2.0 * math.pi * rho
            seen = 1
    else:
        m = affine_point(sc.shape_f, s, L.SF_TO_WORLD, vec3(cos_phi, sin_phi, 0.0))
        tangent = affine_vector(sc.shape_f, s, L.SF_TO_WORLD, vec3(-sin_phi, cos_phi, 0.0))
        speed = tangent.norm()
        if speed > 0.0:
            e = tangent / speed
            length = 2.0 * math.pi * speed
            seen = 1
    return seen, m, e, length


@ti.func
def outline_sample(sc: ti.template(), ad: ti.template(), rows: ti.template(), moving_vtx: ti.template(),
                   accum: ti.template(), weight: ti.template(), image_grad: ti.template(), mode: ti.template(),
                   seed: ti.u32, i: ti.i32, spp: ti.i32, scale: ti.f32, max_depth: ti.i32, rr_depth: ti.i32,
                   hide_emitters: ti.i32, rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32,
                   border: ti.i32):
    """Camera path i (pixel i // spp of the film enlarged by `border` pixels on each side, row
    major): the outline term at one of its vertices, drawn uniformly."""
    key, pos, o, d, tmax = camera_path_start(sc, accum, seed, i, spp, border, OUTLINE_STREAM)
    k, n_vertices, x = pick_path_vertex(sc, ad, key, o, d, tmax, max_depth, rr_depth, hide_emitters)
    x_moves = triangle_moves(sc, moving_vtx, x.tri)
    okey = rng.sample_key(key, ti.u32(k), ti.u32(OUTLINE_STREAM + 1))
    n_rows = rows.shape[0]
    s = rows[ti.min(ti.cast(rng.rand(okey, 0) * n_rows, ti.i32), n_rows - 1)]
    seen, m, e, length = outline_point(sc, s, x.p, rng.rand(okey, 1))
    emitter = -1
    if sc.shape_i[s, L.SI_EMITTER] >= 0:
        emitter = s
    active, diff, rate = across_boundary(sc, ad, key, k, x, m, e, x.found and x_moves and seen, max_depth, rr_depth,
                                         emitter, OUTLINE_STREAM + 2)
    if active and (diff.max() != 0.0 or diff.min() != 0.0):
        value = x.beta * diff * (scale * length * n_rows * n_vertices)
        if ti.static(mode == MODE_ADJOINT):
            c = boundary_adjoint(image_grad, pos, value, rfilter, filter_radius, filter_stddev)
            if c != 0.0:
                triangle_scatter(sc, ad, x.tri, x.bary, x.d, 1, -c * rate, vec3(0.0))
        else:
            dx, _ = triangle_tangent(sc, ad, x.tri, x.bary, x.d, 1)
            splat_boundary_term(accum, weight, pos, -value * rate.dot(dx), rfilter, filter_radius, filter_stddev)


@ti.kernel
def analytic_outlines_kernel(
    scene: SceneArrays,
    grad_vtx: V3_1, tan_vtx: V3_1, rows: I_1, moving_vtx: I_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), mode: ti.template(), seed: ti.u32, spp: ti.i32, scale: ti.f32,
    max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32,
    rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32, border: ti.i32,
):
    """`spp` camera paths per pixel, each adding the outline term of one analytic shape (`rows`:
    analytic_rows) at one vertex (adjoint: into `grad_vtx`; forward: onto the film).
    `moving_vtx`: (V,) 1 for the vertices that move; `scale`: 1 / spp / the filter's integral;
    `border`: pixels the film samples around the image (`sample_border`)."""
    for i in range((accum.shape[0] + 2 * border) * (accum.shape[1] + 2 * border) * spp):
        outline_sample(
            SceneView(features, scene),
            ADView(grad_vtx, grad_vtx, grad_vtx, rows, tan_vtx, tan_vtx, tan_vtx, rows),
            rows, moving_vtx, accum, weight, image_grad, mode, seed, i, spp, scale,
            max_depth, rr_depth, hide_emitters, rfilter, filter_radius, filter_stddev, border,
        )
