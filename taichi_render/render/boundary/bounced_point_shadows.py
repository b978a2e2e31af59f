"""Point-light shadows seen after a bounce: the boundary term of vertex-position derivatives where
a moving shadow from a point light falls on a diffuse surface that a path vertex sees, for
`prb_projective` (point_shadow_edges.py has the shadows the camera sees).

At a diffuse path vertex x the reflected radiance is ∫ g(ω) dω. A point light at p lights the
surface x sees in direction ω where nothing lies between; across the shadow's boundary on that
receiver, g jumps by ΔG = f(x, ω) cos_x ΔL(y → x), ΔL = f(y, ω_light, -ω) cos I / |y - p|² the
light's direct contribution at the receiver point y. The boundary is the receiver's cut by the
plane through p and an occluder's silhouette edge (as from p): a curve on the receiver, which
seen from x is a curve on the sphere of directions, so its term is indirect_edges.py's with the
curve in place of a mesh edge:

    ∫_edge (g⁻ - g⁺) ((v - x') · (ω × e_b)) / r² |e_b| dℓ,      ω = (y - x) / r, r = |y - x|

over the occluder's edge (length ℓ), with e_b = λ (e - w (n·e)/(n·w)) the curve's tangent per
unit of edge length (w = (m - p)/|m - p|, λ = |y - p| / |m - p|, n the receiver's normal), x'
the motion of x along its ray, and v the motion of the curve point: on the plane, which turns
about the edge as the light moves and about p as the edge point m moves
(N · v = N · ((1 - λ) p' + λ m'), N the plane's unit normal), and on the receiver, which moves
with its triangle (n · v = n · y'). Only v's part across the curve counts.

Estimator: `sppi` primal camera paths per pixel; each picks one vertex x uniformly among those
whose next vertex can still take a light sample (bounded by max_depth - 2, 8 for unbounded
paths), a point light uniformly and an edge point by length among the moving edges, or among all
edges when point lights move (indirect_edges.EdgeTable3D), keeps silhouettes from p and boundary edges, traces two rays
from p a hair to either side of the edge point (the lit one finds y), and counts when x sees y
and the shadowed point beside it, and x and y are diffuse (the interior terms' scope). The term
goes to the camera path's film position through the pixel filter, weighted by the path's
throughput up to x. Where meshes move under lights that stay put and the scene has static
edges, a second launch (`static_edges`) draws as many paths' edge points among all edges and
counts the static ones only, where the receiver y or the vertex x moves: a static occluder's
shadow moves on a moving receiver, and its image moves as seen from a moving x. Where the scene
has spheres or disks, one more launch draws the occluder point on their outlines as seen from p
instead (point_shadow_edges.light_outline_point), counted as a static edge's.

Not covered: shadows seen through non-diffuse vertices.
"""

import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.bsdf import slot_textures
from ..device.derivatives import MODE_ADJOINT, ADView
from ..device.frame import frame_from_normal
from ..device.intersect import interaction_at, spawn_origin
from ..device.shape_derivatives import triangle_scatter, triangle_tangent
from ..device.warp import INV_PI
from ..view import F_1, I_1, I_2, IMG, V3_1, V3_2, SceneArrays, SceneView
from .indirect_edges import (
    MAX_UNBOUNDED_VERTICES,
    camera_path_start,
    path_vertex_at,
    triangle_moves,
)
from .point_shadow_edges import (
    E3_ENDS,
    OUTLINES,
    edge_cdf_rows,
    light_edge_point,
    light_outline_point,
    reaches,
    receiver_jump,
    shadow_boundary,
)
from .primary_edges import boundary_adjoint, pick_edge_between, splat_boundary_term

vec2 = ti.math.vec2
vec3 = ti.math.vec3

BOUNCED_STREAM = 0xB0C5AD  # sample index of the samples' random keys


@ti.func
def _sees(sc: ti.template(), x: vec3, n: vec3, y: vec3) -> ti.i32:
    """Whether a ray from the surface point x (geometric normal n) towards y first meets y."""
    return reaches(sc, spawn_origin(x, n, (y - x).normalized()), y)


@ti.func
def _across(N: vec3, n: vec3, q: vec3):
    """The part of the curve point's motion v along q, from N · v = a and n · v = b (v in the
    span of N and n): (k_a, k_b) with v · q = k_a a + k_b b."""
    c = N.dot(n)
    det = 1.0 - c * c
    return (N.dot(q) - c * n.dot(q)) / det, (n.dot(q) - c * N.dot(q)) / det


@ti.func
def bounced_shadow_sample(sc: ti.template(), ad: ti.template(), edge3_p: ti.template(), edge3_i: ti.template(),
                          cdf: ti.template(), moving_vtx: ti.template(), lights: ti.template(), rows: ti.template(),
                          occluders: ti.template(), accum: ti.template(), weight: ti.template(),
                          image_grad: ti.template(), mode: ti.template(), seed: ti.u32, i: ti.i32, spp: ti.i32,
                          scale: ti.f32, n_moving: ti.i32, all_edges: ti.i32, static_edges: ti.i32,
                          max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32, rfilter: ti.i32,
                          filter_radius: ti.f32, filter_stddev: ti.f32, border: ti.i32):
    """Camera path i: the term at one of its vertices (module docstring). With `occluders` EDGES
    the edge is drawn by length among the moving edges or, with `all_edges`, among all edges
    (edge_cdf_rows); with OUTLINES, a point of an analytic shape's outline (`rows`) as seen from
    the light. With `static_edges`, edges e < n_moving (the moving ones, drawn by the other
    launch) are not counted, nor static occluders whose shadow neither falls on a moving
    receiver nor is seen from a moving x."""
    key, pos, o, d, tmax = camera_path_start(sc, accum, seed, i, spp, border, BOUNCED_STREAM)
    n_vertices = MAX_UNBOUNDED_VERTICES
    if max_depth > 0:
        n_vertices = max_depth - 2
    k = ti.min(ti.cast(rng.rand(key, rng.DIM_FILM + 2) * n_vertices, ti.i32), n_vertices - 1)
    x = path_vertex_at(sc, ad, key, k, o, d, tmax, max_depth, rr_depth, hide_emitters)
    frame = frame_from_normal(x.sh_n * x.flip)
    if x.found and sc.bsdf_i[x.bsdf, L.BI_TYPE] == L.BSDF_DIFFUSE and (frame @ (-x.d)).z > 0.0:
        skey = rng.sample_key(key, ti.u32(k), ti.u32(BOUNCED_STREAM + 1))
        if ti.static(occluders == OUTLINES):
            emitter, p, m, e_dir, w, plane_n, casts, length = light_outline_point(sc, lights, rows, rng.rand(skey, 2),
                                                                                  rng.rand(skey, 0))
            _bounced_shadow_term(sc, ad, edge3_i, moving_vtx, x, frame, emitter, p, m, e_dir, w, plane_n, E3_ENDS,
                                 casts, 0, 0.0, 0, static_edges, length * n_vertices * lights.shape[0], accum,
                                 weight, image_grad, mode, pos, scale, rfilter, filter_radius, filter_stddev)
        else:
            first, last = edge_cdf_rows(cdf, n_moving, all_edges)
            e = pick_edge_between(cdf, first, last, rng.rand(skey, 0)) - first
            t = rng.rand(skey, 1)
            emitter, p, m, e_dir, w, plane_n, ends, silhouette = light_edge_point(sc, lights, edge3_p, edge3_i,
                                                                                  rng.rand(skey, 2), e, t)
            _bounced_shadow_term(sc, ad, edge3_i, moving_vtx, x, frame, emitter, p, m, e_dir, w, plane_n, ends,
                                 silhouette and not (static_edges and e < n_moving), e, t, not static_edges,
                                 static_edges, n_vertices * lights.shape[0], accum, weight, image_grad, mode, pos,
                                 scale, rfilter, filter_radius, filter_stddev)


@ti.func
def _bounced_shadow_term(sc: ti.template(), ad: ti.template(), edge3_i: ti.template(), moving_vtx: ti.template(),
                         x: ti.template(), frame: ti.template(), emitter: ti.i32, p: vec3, m: vec3, e_dir: vec3,
                         w: vec3, plane_n: vec3, ends: ti.i32, counts: ti.i32, e: ti.i32, t: ti.f32,
                         edge_moves: ti.i32, static_only: ti.i32, factor: ti.f32, accum: ti.template(),
                         weight: ti.template(), image_grad: ti.template(), mode: ti.template(), pos: vec2,
                         scale: ti.f32, rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32):
    """The term at path vertex x (its shading `frame`) of the occluder point m (edge e at t, or an
    outline point: e unread, `edge_moves` 0) where it `counts`; with `static_only`, only where
    the receiver or x moves. `factor`: the occluder's length per unit of the drawn sample times
    the vertex and light counts."""
    if counts:
        sigma, lit_d, lit, blocked_d = shadow_boundary(sc, p, m, plane_n)
        y_si = interaction_at(sc, lit, p, lit_d)
        n = y_si.n
        n_w = n.dot(lit_d)
        moves = not static_only or triangle_moves(sc, moving_vtx, y_si.tri) or triangle_moves(sc, moving_vtx, x.tri)
        if moves and sigma != 0.0 and ti.abs(n_w) > 1e-4 and plane_n.cross(n).norm() > 1e-4:
            y = y_si.p
            y_dark = p + blocked_d * (n.dot(y - p) / n.dot(blocked_d))
            v = y - x.p
            r2 = v.dot(v)
            omega = v / ti.sqrt(r2)
            wo = frame @ omega
            if wo.z > 0.0 and _sees(sc, x.p, x.n, y) and _sees(sc, x.p, x.n, y_dark):
                tex0, _ = slot_textures(sc, x.bsdf, x.uv)
                jump = tex0 * (wo.z * INV_PI) * receiver_jump(
                    sc, y_si, -omega, -lit_d, (y - p).norm_sqr(), sc.em_i[emitter, L.EI_TEX])
                lam = (y - p).norm() / (m - p).norm()
                e_b = lam * (e_dir - w * (n.dot(e_dir) / n_w))
                side = omega.cross(e_b.normalized())
                # g⁻ - g⁺: the lit side is where a ray from p turned by σN meets the receiver
                lit_n = sigma * (plane_n - lit_d * (n.dot(plane_n) / n_w))
                diff = jump if side.dot(lit_n) < 0.0 else -jump
                value = x.beta * diff * (e_b.norm() * scale * factor)
                if value.max() != 0.0 or value.min() != 0.0:
                    q = side / r2
                    k_plane, k_surface = _across(plane_n, n, q)
                    _add_bounced_term(sc, ad, edge3_i, e, ends, edge_moves, t, plane_n * (lam * k_plane), emitter,
                                      plane_n * ((1.0 - lam) * k_plane), y_si.tri, y_si.b, n * k_surface, x.tri,
                                      x.bary, x.d, q, moving_vtx, accum, weight, image_grad, mode, pos, value,
                                      rfilter, filter_radius, filter_stddev)


@ti.func
def _add_bounced_term(sc: ti.template(), ad: ti.template(), edge3_i: ti.template(), e: ti.i32, ends: ti.i32,
                      edge_moves: ti.i32, t: ti.f32, rate_m: vec3, emitter: ti.i32, rate_p: vec3, y_tri: ti.i32, y_bary: vec2, rate_y: vec3, x_tri: ti.i32,
                      x_bary: vec2, x_d: vec3, rate_x: vec3, moving_vtx: ti.template(), accum: ti.template(),
                      weight: ti.template(), image_grad: ti.template(), mode: ti.template(), pos: vec2, value: vec3,
                      rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32):
    """`value` times the speed rate_m · m' + rate_p · p' + rate_y · y' - rate_x · x' (m: the edge
    point, counted when `edge_moves`; p: point light `emitter`'s position, y: the receiver's
    material point, x: the vertex, along its ray x_d). Adjoint: into the vertex and light
    gradients; forward: onto the film."""
    va = edge3_i[e, ends]
    vb = edge3_i[e, ends + 1]
    light = emitter * L.ED_WIDTH + L.ED_POSITION
    y_moves = triangle_moves(sc, moving_vtx, y_tri)
    x_moves = triangle_moves(sc, moving_vtx, x_tri)
    if ti.static(mode == MODE_ADJOINT):
        c = boundary_adjoint(image_grad, pos, value, rfilter, filter_radius, filter_stddev)
        if c != 0.0:
            if edge_moves:
                ti.atomic_add(ad.grad_vtx[va], c * (1.0 - t) * rate_m)
                ti.atomic_add(ad.grad_vtx[vb], c * t * rate_m)
            for k in ti.static(range(3)):
                ti.atomic_add(ad.grad_em[light + k], c * rate_p[k])
            if y_moves:  # y's material point (on_ray 0: the ray direction is not read)
                triangle_scatter(sc, ad, y_tri, y_bary, x_d, 0, c * rate_y, vec3(0.0))
            if x_moves:
                triangle_scatter(sc, ad, x_tri, x_bary, x_d, 1, -c * rate_x, vec3(0.0))
    else:
        speed = 0.0
        if edge_moves:
            speed = rate_m.dot((1.0 - t) * ad.tan_vtx[va] + t * ad.tan_vtx[vb])
        speed += rate_p.dot(vec3(ad.tan_em[light], ad.tan_em[light + 1], ad.tan_em[light + 2]))
        if y_moves:
            dy, _ = triangle_tangent(sc, ad, y_tri, y_bary, x_d, 0)
            speed += rate_y.dot(dy)
        if x_moves:
            dx, _ = triangle_tangent(sc, ad, x_tri, x_bary, x_d, 1)
            speed -= rate_x.dot(dx)
        splat_boundary_term(accum, weight, pos, value * speed, rfilter, filter_radius, filter_stddev)


@ti.kernel
def bounced_shadow_kernel(
    scene: SceneArrays,
    grad_vtx: V3_1, tan_vtx: V3_1, grad_em: F_1, tan_em: F_1,
    edge3_p: V3_2, edge3_i: I_2, cdf: F_1, moving_vtx: I_1, lights: I_1, rows: I_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), mode: ti.template(), occluders: ti.template(), seed: ti.u32, spp: ti.i32,
    scale: ti.f32, n_moving: ti.i32, all_edges: ti.i32, static_edges: ti.i32, max_depth: ti.i32, rr_depth: ti.i32,
    hide_emitters: ti.i32, rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32, border: ti.i32,
):
    """`spp` camera paths per pixel, each adding the term of point-light shadows seen after a
    bounce (module docstring). Adjoint: into `grad_vtx` and `grad_em` (emitter rows); forward:
    onto the film. `occluders`: EDGES (`cdf`, `n_moving`: EdgeTable3D's; edges are drawn among
    the moving ones, or with `all_edges` among all) or OUTLINES (`rows`: (A,) shape_i rows of
    spheres and disks; unread with EDGES); `static_edges`: count static occluders only (edges
    e >= `n_moving`), where the receiver or the vertex moves; `moving_vtx`: (V,) 1 for the
    vertices that move; `lights`: (K,) rows of the point lights in em_i; `scale`: the drawn
    edges' length (with OUTLINES: 1) / spp / the filter's integral; `border`: pixels the film
    samples around the image."""
    for i in range((accum.shape[0] + 2 * border) * (accum.shape[1] + 2 * border) * spp):
        bounced_shadow_sample(
            SceneView(features, scene),
            ADView(grad_vtx, grad_vtx, grad_vtx, grad_em, tan_vtx, tan_vtx, tan_vtx, tan_em),
            edge3_p, edge3_i, cdf, moving_vtx, lights, rows, occluders, accum, weight, image_grad, mode, seed, i, spp,
            scale, n_moving, all_edges, static_edges, max_depth, rr_depth, hide_emitters, rfilter, filter_radius,
            filter_stddev, border,
        )
