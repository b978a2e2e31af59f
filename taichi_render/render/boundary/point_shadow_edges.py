"""Point-light shadows: the boundary term of vertex- and light-position derivatives where a
shadow from a point light moves on a diffuse surface the camera sees (its occluder moves, the
receiver does, or the light), for the projective integrators.

A point light at p lights a receiver point y when nothing lies between them: V(y) is a step
function on the receiver, whose jump (the shadow boundary) is the receiver's intersection with
the planes through p and the occluders' silhouette edges as seen from p. Being a delta in
direction space, the light gives no jump on the sphere of directions at y, so the direction-
space edge sampling of indirect_edges.py cannot see it; here the boundary is sampled from the
light instead. A pixel is I = ∫ k(x) L(x) dx / ∫ k over the image plane; where the camera sees
the receiver, x ↦ y changes measure by J = dx/dA_y = f_x f_y cos_y / (cos³φ |y - c|²) (pixels²
per unit area; f: focal lengths in pixels, φ: the angle off the view axis, c: the camera). As
the boundary moves on the receiver, the lit area grows at the rate of its normal speed, so

    dI/dθ = ∫_edge k(x(y)) J(y) ΔL(y) (-σ N · (m' + p' (1 - λ)/λ - y'/λ)) λ² |e - ω (n·e)/(n·ω)| / |N × n| dℓ / ∫ k

over the silhouette edge (unit direction e) from p, with m = (1 - t) v₀ + t v₁ the edge point,
ω = (m - p)/|m - p|, N = ω × e / |ω × e| (σ N points to the lit side), λ = |y - p| / |m - p|,
n the receiver's normal at y, and ΔL = f(y, ω_light, ω_camera) cos I / |y - p|² the light's
direct contribution lost in the shadow. The plane through p and the edge, at y = p + λ (m - p),
moves by (1 - λ) p' + λ m'. The receiver point y moves when its triangle does,
along the camera ray as a camera ray's hit moves (shape_derivatives.triangle_tangent): the plane
through p and the edge and the receiver both move, and (N · ((1 - λ) p' + λ m') - N · y') / |N × n|
is the boundary's normal speed on the receiver as the camera sees it; λ |e - ω (n·e)/(n·ω)| is the
boundary's length per unit of edge length.

Estimator: `sppi` x W x H samples, each a point light (uniformly) and an edge point by length
among the edges of moving meshes (indirect_edges.edge_table_3d's table), sample i in the i-th
of n equal strata of the edges' total length (stratified: the shadow's sides brighten and
darken the image in turn, and their balance is what the image sum measures); as many again
among all edges, counting static ones only, where the scene has static edges (their shadows
move on moving receivers, and under moving lights; where only lights move, every edge is in the
first stream); and where the scene has spheres or disks, as many again among their outlines as
seen from p (analytic_outlines.outline_point: a sphere's grazing circle from p, a disk's rim; one
shape and one angle per stratum), which stand still as static edges do: p' moves a sphere's
grazing circle, but to first order the plane through p tangent to the sphere at m moves as the
plane through p and the fixed line through m along the circle's tangent (both move y's side of
the boundary by (1 - λ) N · p'). The edge counts if
it is a silhouette from p or a mesh boundary; two rays from p a hair (1e-4 rad) to either side of
it find the lit side (the ray that passes, σ) and y (its first hit), and the blocked side must
stop before y. The camera must see y and the shadowed point next to it (a camera ray to each
reaches it: a shadow hidden behind its occluder, as with a light at the camera, adds nothing,
the primary term having the silhouette), y must project into the sampled film (with the film's
border under `sample_border`), and the receiver must be diffuse (the interior terms' scope; this
kernel evaluates the diffuse BSDF itself, not bsdf.eval_pdf). The term is splatted at y's film
position through the pixel filter (reverse mode gathers the pixel adjoints,
primary_edges.boundary_adjoint; forward mode adds to the film, splat_boundary_term).

Covered: point-light shadows on diffuse surfaces seen directly by the camera (the first path
vertex; max_depth other than 1); bounced_point_shadows.py has those a diffuse path vertex sees.
Not covered: shadows seen through non-diffuse vertices (in a mirror).
"""

import numpy as np
import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.bsdf import resolve, slot_textures
from ..device.derivatives import MODE_ADJOINT, ADView
from ..device.frame import frame_from_normal
from ..device.intersect import INF, interaction_at, trace
from ..device.shape_derivatives import triangle_scatter, triangle_tangent
from ..device.textures import eval_texture
from ..device.warp import INV_PI
from ..view import F_1, I_1, I_2, IMG, V3_1, V3_2, SceneArrays, SceneView
from .analytic_outlines import outline_point
from .indirect_edges import E3_ENDS, E3_F0, E3_F1, E3_FLAGS, EDGE_ALWAYS, triangle_moves
from .primary_edges import boundary_adjoint, pick_edge_between, splat_boundary_term

vec2 = ti.math.vec2
vec3 = ti.math.vec3

SIDE_ANGLE = 1e-4  # radians between the edge point's direction from the light and the side rays
SEEN = 1e-3  # relative distance within which a camera ray reaches a point
POINT_SHADOW_STREAM = 0x9051AD  # sample index of the point-shadow samples' random keys
EDGES, OUTLINES = 0, 1  # the occluders a launch draws: mesh edges, or analytic shapes' outlines


def point_lights(data) -> np.ndarray:
    """(K,) int32 rows of the scene's point lights in the emitter table (em_i)."""
    em_i = data.np["em_i"]
    n = int(data.np["scene_i"][L.SC_NUM_EMITTERS])
    return np.flatnonzero(em_i[:n, L.EI_TYPE] == L.EMITTER_POINT).astype(np.int32)


@ti.func
def faces_point(sc: ti.template(), face: ti.i32, x: vec3) -> ti.i32:
    """Whether triangle `face` turns its front (winding order) to the point x."""
    n = sc.tri_p[face, 1].cross(sc.tri_p[face, 2])
    return n.dot(x - sc.tri_p[face, 0]) > 0.0


@ti.func
def _film_position(sc: ti.template(), row: ti.i32, y: vec3, sub_w: ti.i32):
    """Film position (pixels) of the world point y in camera `row`'s image (its sub-image of a
    batch, offset by row * sub_w), whether it is in front of the near plane, the camera's
    origin, and J = d(film area)/d(area across the view ray) without the receiver's cosine."""
    c = row * L.CAM_WIDTH
    o = vec3(sc.cam[c + 3], sc.cam[c + 7], sc.cam[c + 11])
    v = y - o
    q = vec3(sc.cam[c + 0] * v.x + sc.cam[c + 4] * v.y + sc.cam[c + 8] * v.z,
             sc.cam[c + 1] * v.x + sc.cam[c + 5] * v.y + sc.cam[c + 9] * v.z,
             sc.cam[c + 2] * v.x + sc.cam[c + 6] * v.y + sc.cam[c + 10] * v.z)
    front = q.z > sc.cam[c + L.CAM_NEAR]
    z = ti.max(q.z, 1e-12)
    crop = c + L.CAM_CROP
    fx = sc.cam[crop + 2] / (2.0 * sc.cam[c + L.CAM_TAN_X])
    fy = sc.cam[crop + 3] / (2.0 * sc.cam[c + L.CAM_TAN_Y])
    pos = vec2((0.5 * sc.cam[crop + 2] - fx * q.x / z) - sc.cam[crop] + row * sub_w,
               (0.5 * sc.cam[crop + 3] - fy * q.y / z) - sc.cam[crop + 1])
    r2 = v.dot(v)
    cos_phi = z / ti.sqrt(ti.max(r2, 1e-30))
    jac = fx * fy / (cos_phi * cos_phi * cos_phi * ti.max(r2, 1e-30))
    return pos, front, o, jac


@ti.func
def reaches(sc: ti.template(), o: vec3, y: vec3) -> ti.i32:
    """Whether the ray from o (a camera past its near plane, or a point spawned off a surface)
    towards y first meets y."""
    v = y - o
    r = v.norm()
    d = v / r
    hit = trace(sc, o, d, r * (1.0 + SEEN), False)
    return hit.prim >= 0 and hit.t > r * (1.0 - SEEN)


@ti.func
def shadow_boundary(sc: ti.template(), p: vec3, m: vec3, side: vec3):
    """The rays from the light p a hair to either side (±`side`) of the edge point m: (sigma,
    the sign of the lit side along `side`, 0 when neither or both pass; the lit ray's direction
    and hit; the blocked ray's direction)."""
    w = (m - p).normalized()
    w_plus = (w + SIDE_ANGLE * side).normalized()
    w_minus = (w - SIDE_ANGLE * side).normalized()
    h_plus = trace(sc, p, w_plus, INF, False)
    h_minus = trace(sc, p, w_minus, INF, False)
    d_m = (m - p).norm()
    sigma = 0.0
    lit_d, blocked_d, lit = w_plus, w_minus, h_plus
    t_blocked = h_minus.t
    if h_minus.t > h_plus.t:
        sigma = -1.0
        lit_d, blocked_d, lit = w_minus, w_plus, h_minus
        t_blocked = h_plus.t
    elif h_plus.t > h_minus.t:
        sigma = 1.0
    # the lit ray passes the edge and finds a receiver; the blocked one stops near the edge
    if lit.prim < 0 or lit.t < d_m * (1.0 + 1e-3) or t_blocked > d_m + 0.5 * (lit.t - d_m):
        sigma = 0.0
    return sigma, lit_d, lit, blocked_d


@ti.func
def receiver_jump(sc: ti.template(), y_si: ti.template(), to_camera: vec3, to_light: vec3, r2: ti.f32,
                   tex: ti.i32) -> vec3:
    """ΔL: the point light's direct contribution at the diffuse receiver y (f cos I / r²,
    the BSDF in the shading frame as the path tracer evaluates it), 0 on other BSDFs."""
    b, flip = resolve(sc, sc.shape_i[y_si.shape, L.SI_BSDF], y_si.sh_n.dot(to_camera))
    frame = frame_from_normal(y_si.sh_n * flip)
    wi = frame @ to_camera
    wo = frame @ to_light
    value = vec3(0.0)
    if wi.z > 0.0 and wo.z > 0.0 and sc.bsdf_i[b, L.BI_TYPE] == L.BSDF_DIFFUSE:
        tex0, _ = slot_textures(sc, b, y_si.uv)
        value = tex0 * (wo.z * INV_PI) * eval_texture(sc, tex, vec2(0.0)) / r2
    return value


@ti.func
def _pick_light(sc: ti.template(), lights: ti.template(), u_light: ti.f32):
    """A point light drawn uniformly with u_light among `lights` ((K,) em_i rows): (its emitter
    row, its position)."""
    n_lights = lights.shape[0]
    emitter = lights[ti.min(ti.cast(u_light * n_lights, ti.i32), n_lights - 1)]
    p = vec3(sc.em_f[emitter, L.EF_POSITION], sc.em_f[emitter, L.EF_POSITION + 1],
             sc.em_f[emitter, L.EF_POSITION + 2])
    return emitter, p


@ti.func
def _plane_through(p: vec3, m: vec3, e_dir: vec3):
    """The plane through the light p and the line through m along the unit e_dir: (w = (m - p) /
    |m - p|, its unit normal N = w × e / |w × e|, |w × e|, about 0 where the line is seen end-on)."""
    w = (m - p).normalized()
    cross = w.cross(e_dir)
    c_len = cross.norm()
    return w, cross / ti.max(c_len, 1e-6), c_len


@ti.func
def light_edge_point(sc: ti.template(), lights: ti.template(), edge3_p: ti.template(), edge3_i: ti.template(),
                     u_light: ti.f32, e: ti.i32, t: ti.f32):
    """A point light drawn with u_light among `lights` ((K,) em_i rows) and the point at t along
    edge e, as seen from the light: (emitter row, light position p, edge point m, unit edge
    direction, w = (m - p)/|m - p|, plane normal N = w × e / |w × e|, the column of the end
    vertices as the face turned to p indexes them, and whether the edge can cast a shadow
    boundary: a silhouette from p or a mesh boundary, not seen end-on)."""
    emitter, p = _pick_light(sc, lights, u_light)
    p0 = edge3_p[e, 0]
    p1 = edge3_p[e, 1]
    m = p0 + t * (p1 - p0)
    f1 = edge3_i[e, E3_F1]
    front0 = faces_point(sc, edge3_i[e, E3_F0], p)
    front1 = 0
    if f1 >= 0:
        front1 = faces_point(sc, f1, p)
    ends = E3_ENDS
    if f1 >= 0 and front1 and not front0:
        ends = E3_ENDS + 2
    e_dir = (p1 - p0).normalized()
    w, normal, c_len = _plane_through(p, m, e_dir)
    silhouette = ((edge3_i[e, E3_FLAGS] & EDGE_ALWAYS) != 0 or front0 != front1) and c_len > 1e-6
    return emitter, p, m, e_dir, w, normal, ends, silhouette


@ti.func
def edge_cdf_rows(cdf: ti.template(), n_moving: ti.i32, all_edges: ti.i32):
    """The first and last rows of EdgeTable3D's `cdf` that hold one CDF: the moving edges'
    (its first `n_moving` rows) or, with `all_edges`, every edge's (the rows after them)."""
    first, last = 0, n_moving - 1
    if all_edges:
        first, last = n_moving, cdf.shape[0] - 1
    return first, last


@ti.func
def light_outline_point(sc: ti.template(), lights: ti.template(), rows: ti.template(), u_light: ti.f32, u: ti.f32):
    """A point light drawn with u_light among `lights` ((K,) em_i rows) and a point of an analytic
    shape's outline as seen from it: shape ⌊u A⌋ of `rows` ((A,) shape_i rows), at angle 2π
    times u A's fractional part (analytic_outlines.outline_point). (emitter row, light position
    p, outline point m, its unit tangent e, w = (m - p)/|m - p|, plane normal N = w × e / |w × e|,
    whether it casts a shadow boundary, the outline's length per unit of u.)"""
    emitter, p = _pick_light(sc, lights, u_light)
    n_rows = rows.shape[0]
    scaled = u * n_rows
    pick = ti.min(ti.cast(scaled, ti.i32), n_rows - 1)
    seen, m, e_dir, length = outline_point(sc, rows[pick], p, scaled - pick)
    w, normal, c_len = _plane_through(p, m, e_dir)
    return emitter, p, m, e_dir, w, normal, seen and c_len > 1e-6, length * n_rows


@ti.func
def point_shadow_sample(sc: ti.template(), ad: ti.template(), edge3_p: ti.template(), edge3_i: ti.template(),
                        cdf: ti.template(), n_moving: ti.i32, moving_vtx: ti.template(), lights: ti.template(),
                        rows: ti.template(), occluders: ti.template(), accum: ti.template(), weight: ti.template(),
                        image_grad: ti.template(), mode: ti.template(), seed: ti.u32, i: ti.i32, n_samples: ti.i32,
                        scale: ti.f32, static_edges: ti.i32, light_motion: ti.i32, rfilter: ti.i32,
                        filter_radius: ti.f32, filter_stddev: ti.f32, border: ti.i32):
    """Sample i: a point light, an occluder's point (with `occluders` EDGES: an edge point, with
    OUTLINES: a point of an analytic shape's outline, `rows`), the shadow boundary point y behind
    it, and the boundary term at y's film position in every camera that sees y (see the module
    docstring). The edge is drawn among the moving edges (the term of the edge's, the receiver's
    and the light's motion) or, with `static_edges`, among all edges, counting static ones only
    (the receiver's and, with `light_motion`, the light's motion); outlines stand still as
    static edges do."""
    key = rng.sample_key(seed, ti.cast(i, ti.u32), ti.u32(POINT_SHADOW_STREAM))
    # one stratum of the occluders' total length per sample: the edge or outline and the point on it
    u = (ti.cast(i, ti.f32) + rng.rand(key, 0)) / ti.cast(n_samples, ti.f32)
    if ti.static(occluders == OUTLINES):
        emitter, p, m, e_dir, w, normal, casts, length = light_outline_point(sc, lights, rows, rng.rand(key, 2), u)
        _point_shadow_term(sc, ad, edge3_i, moving_vtx, emitter, p, m, e_dir, w, normal, E3_ENDS, casts, 0, 0.0, 0,
                           length, accum, weight, image_grad, mode, scale, light_motion, rfilter, filter_radius,
                           filter_stddev, border)
    else:
        first, last = edge_cdf_rows(cdf, n_moving, static_edges)
        row_e = pick_edge_between(cdf, first, last, u)
        e = row_e - first
        c0 = 0.0
        if row_e > first:
            c0 = cdf[row_e - 1]
        t = ti.min(ti.max((u - c0) / ti.max(cdf[row_e] - c0, 1e-30), 0.0), 1.0)
        edge_moves = e < n_moving
        emitter, p, m, e_dir, w, normal, ends, silhouette = light_edge_point(sc, lights, edge3_p, edge3_i,
                                                                             rng.rand(key, 2), e, t)
        _point_shadow_term(sc, ad, edge3_i, moving_vtx, emitter, p, m, e_dir, w, normal, ends,
                           silhouette and not (static_edges and edge_moves), e, t, edge_moves, 1.0, accum, weight,
                           image_grad, mode, scale, light_motion, rfilter, filter_radius, filter_stddev, border)


@ti.func
def _point_shadow_term(sc: ti.template(), ad: ti.template(), edge3_i: ti.template(), moving_vtx: ti.template(),
                       emitter: ti.i32, p: vec3, m: vec3, e_dir: vec3, w: vec3, normal: vec3, ends: ti.i32,
                       counts: ti.i32, e: ti.i32, t: ti.f32, edge_moves: ti.i32, length: ti.f32,
                       accum: ti.template(), weight: ti.template(), image_grad: ti.template(), mode: ti.template(),
                       scale: ti.f32, light_motion: ti.i32, rfilter: ti.i32, filter_radius: ti.f32,
                       filter_stddev: ti.f32, border: ti.i32):
    """The term of the occluder point m (edge e at t, or an outline point: e unread, `edge_moves`
    0) where it `counts`, times `length` (the occluder's length per unit of the drawn u)."""
    if counts:
        sigma, lit_d, lit, blocked_d = shadow_boundary(sc, p, m, normal)
        y_si = interaction_at(sc, lit, p, lit_d)
        n = y_si.n
        n_w = n.dot(lit_d)
        n_cross = normal.cross(n).norm()
        y_tri = y_si.tri if triangle_moves(sc, moving_vtx, y_si.tri) else -1  # the receiver's, when it moves
        if sigma != 0.0 and ti.abs(n_w) > 1e-4 and n_cross > 1e-4 and (edge_moves or y_tri >= 0 or light_motion):
            y = y_si.p
            # the shadowed receiver point next to y, on y's tangent plane
            y_dark = p + blocked_d * (n.dot(y - p) / n.dot(blocked_d))
            lam = (y - p).norm() / (m - p).norm()
            boundary_length = lam * (e_dir - w * (n.dot(e_dir) / n.dot(w))).norm()
            area_rate = lam * boundary_length / n_cross  # lit area lost per unit of sigma N . m'
            rows = sc.cam.shape[0] // L.CAM_WIDTH
            sub_w = accum.shape[1] // rows
            for row in range(rows):
                pos, front, o, jac = _film_position(sc, row, y, sub_w)
                lo = -ti.cast(border, ti.f32) if row == 0 else 0.0
                hi = ti.cast(border, ti.f32) if row == rows - 1 else 0.0
                inside = (row * sub_w + lo <= pos.x <= (row + 1) * sub_w + hi
                          and -border <= pos.y <= accum.shape[0] + border)
                if front and inside and reaches(sc, o, y) and reaches(sc, o, y_dark):
                    to_camera = (o - y).normalized()
                    jump = receiver_jump(sc, y_si, to_camera, -lit_d, (y - p).norm_sqr(),
                                          sc.em_i[emitter, L.EI_TEX])
                    value = jump * (jac * ti.abs(n.dot(to_camera)) * area_rate * scale * length)
                    if value.max() > 0.0:
                        _add_term(sc, ad, edge3_i, e, ends, edge_moves, t, y_tri,
                                  y_si.b, -to_camera, sigma * normal, lam, emitter, accum, weight, image_grad,
                                  mode, pos, value, rfilter, filter_radius, filter_stddev)


@ti.func
def _add_term(sc: ti.template(), ad: ti.template(), edge3_i: ti.template(), e: ti.i32, ends: ti.i32,
              edge_moves: ti.i32, t: ti.f32, y_tri: ti.i32, y_bary: vec2, view_d: vec3, lit_normal: vec3,
              lam: ti.f32, emitter: ti.i32, accum: ti.template(), weight: ti.template(),
              image_grad: ti.template(), mode: ti.template(), pos: vec2, value: vec3, rfilter: ti.i32,
              filter_radius: ti.f32, filter_stddev: ti.f32):
    """The term `value` times the boundary's speed toward the lit side,
    -σN · (m' + p' (1 - λ)/λ - y'/λ): the edge point m' (its ends, when the edge moves), the
    light's position p' (point light `emitter`: the plane turns about the edge) and the receiver
    point y' (on triangle y_tri, -1 when it does not move; along the view ray `view_d`, as a
    camera ray's hit moves). Adjoint: into the vertex and light gradients; forward: onto the
    film."""
    va = edge3_i[e, ends]
    vb = edge3_i[e, ends + 1]
    light = emitter * L.ED_WIDTH + L.ED_POSITION
    if ti.static(mode == MODE_ADJOINT):
        c = boundary_adjoint(image_grad, pos, value, rfilter, filter_radius, filter_stddev)
        if c != 0.0:
            if edge_moves:
                ti.atomic_add(ad.grad_vtx[va], -c * (1.0 - t) * lit_normal)
                ti.atomic_add(ad.grad_vtx[vb], -c * t * lit_normal)
            if y_tri >= 0:
                triangle_scatter(sc, ad, y_tri, y_bary, view_d, 1, (c / lam) * lit_normal, vec3(0.0))
            g_light = -c * (1.0 - lam) / lam * lit_normal
            for k in ti.static(range(3)):
                ti.atomic_add(ad.grad_em[light + k], g_light[k])
    else:
        speed = 0.0
        if edge_moves:
            speed = -lit_normal.dot((1.0 - t) * ad.tan_vtx[va] + t * ad.tan_vtx[vb])
        if y_tri >= 0:
            dy, _ = triangle_tangent(sc, ad, y_tri, y_bary, view_d, 1)
            speed += lit_normal.dot(dy) / lam
        dp = vec3(ad.tan_em[light], ad.tan_em[light + 1], ad.tan_em[light + 2])
        speed -= (1.0 - lam) / lam * lit_normal.dot(dp)
        splat_boundary_term(accum, weight, pos, value * speed, rfilter, filter_radius, filter_stddev)


@ti.kernel
def point_shadow_kernel(
    scene: SceneArrays,
    grad_vtx: V3_1, tan_vtx: V3_1, grad_em: F_1, tan_em: F_1,
    edge3_p: V3_2, edge3_i: I_2, cdf: F_1, n_moving: ti.i32, moving_vtx: I_1, lights: I_1, rows: I_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), mode: ti.template(), occluders: ti.template(), seed: ti.u32, n_samples: ti.i32,
    scale: ti.f32, static_edges: ti.i32, light_motion: ti.i32, rfilter: ti.i32, filter_radius: ti.f32,
    filter_stddev: ti.f32, border: ti.i32,
):
    """`n_samples` point-shadow samples (module docstring). Adjoint: add the term's vertex
    and light gradients to `grad_vtx` and `grad_em` (emitter rows, L.ED_WIDTH floats each),
    reading the pixel adjoints `image_grad`; forward: add it along `tan_vtx` and `tan_em` to the
    film (`accum`, times the pixel's `weight`). `lights`: (K,) rows of the point lights in em_i;
    `occluders`: EDGES (`cdf`, `n_moving`: EdgeTable3D's; `static_edges`: 0 to draw among the
    moving edges, 1 among all, counting static ones) or OUTLINES (`rows`: (A,) shape_i rows of
    spheres and disks, analytic_outlines.analytic_rows; unread with EDGES); `moving_vtx`: (V,) 1 for the vertices that move; `light_motion`: whether point lights move
    (static occluders count then); `scale`: the drawn edges' length (with OUTLINES: 1) * K /
    n_samples / the filter's integral; `border`: pixels the film samples around the image
    (`sample_border`)."""
    for i in range(n_samples):
        point_shadow_sample(
            SceneView(features, scene),
            ADView(grad_vtx, grad_vtx, grad_vtx, grad_em, tan_vtx, tan_vtx, tan_vtx, tan_em),
            edge3_p, edge3_i, cdf, n_moving, moving_vtx, lights, rows, occluders, accum, weight, image_grad, mode,
            seed, i, n_samples, scale, static_edges, light_motion, rfilter, filter_radius, filter_stddev, border,
        )
