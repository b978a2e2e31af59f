"""Emitter sampling and evaluation: `area` (meshes, spheres, disks), `point`, `constant`, `envmap`.

An emitter is chosen uniformly (probability 1/N, as in Mitsuba); every returned pdf includes
that selection probability. Directions point from the reference point towards the emitter.
"""

import taichi as ti

from .. import layout as L
from ..view import ANALYTIC_SHAPES, EMITTERS
from .intersect import INF, affine_normal, affine_point, sphere_center, sphere_uv, triangle_uv
from .textures import eval_texture
from .warp import (
    INV_FOUR_PI,
    PI,
    square_to_uniform_disk_concentric,
    square_to_uniform_sphere,
    square_to_uniform_triangle,
)

vec2 = ti.math.vec2
vec3 = ti.math.vec3

EmitterSample = ti.types.struct(
    d=vec3,  # unit direction from the reference point
    dist=ti.f32,  # distance to the sampled point (INF for environment emitters)
    pdf=ti.f32,  # solid-angle density including emitter selection (1 for delta emitters)
    weight=vec3,  # radiance / pdf (no visibility)
    delta=ti.i32,
    emitter=ti.i32,
    tex=ti.i32,  # radiance texture looked up (-1: none); weight = tex(uv) * factor
    uv=vec2,
    factor=ti.f32,
    p=vec3,  # sampled point and normal (area emitters), for shape derivatives
    n=vec3,
    tri=ti.i32,  # sampled triangle (-1: not a triangle mesh) and its barycentrics
    b=vec2,
)


@ti.func
def sample_cdf(sc: ti.template(), offset: ti.i32, n: ti.i32, u: ti.f32):
    """Index k of the first CDF entry above u, and u rescaled to [0, 1) inside that bin."""
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if sc.dist[offset + mid] > u:
            hi = mid
        else:
            lo = mid + 1
    # (`a if c else b` would read both sides in a Taichi function: dist[offset - 1] for lo = 0)
    prev = 0.0
    if lo > 0:
        prev = sc.dist[offset + lo - 1]
    width = sc.dist[offset + lo] - prev
    frac = (u - prev) / width if width > 0.0 else 0.5
    return lo, ti.math.clamp(frac, 0.0, 0.99999994)


@ti.func
def cdf_mass(sc: ti.template(), offset: ti.i32, k: ti.i32) -> ti.f32:
    prev = 0.0
    if k > 0:
        prev = sc.dist[offset + k - 1]
    return sc.dist[offset + k] - prev


@ti.func
def _rot(a: ti.template(), row: ti.i32, col: ti.i32, v: vec3) -> vec3:
    return vec3(
        a[row, col + 0] * v.x + a[row, col + 1] * v.y + a[row, col + 2] * v.z,
        a[row, col + 3] * v.x + a[row, col + 4] * v.y + a[row, col + 5] * v.z,
        a[row, col + 6] * v.x + a[row, col + 7] * v.y + a[row, col + 8] * v.z,
    )


# ---- environment map (lat-long, Mitsuba's orientation) ----
@ti.func
def envmap_uv(local: vec3) -> vec2:
    u = ti.atan2(local.x, -local.z) * (0.5 / PI)
    if u < 0.0:
        u += 1.0
    v = ti.acos(ti.math.clamp(local.y, -1.0, 1.0)) / PI
    return vec2(u, v)


@ti.func
def envmap_pdf(sc: ti.template(), e: ti.i32, local: vec3) -> ti.f32:
    w = sc.em_i[e, L.EI_CDF_COUNT]
    h = sc.em_i[e, L.EI_CDF_ROWS]
    off = sc.em_i[e, L.EI_CDF_OFFSET]
    uv = envmap_uv(local)
    col = ti.min(ti.cast(uv.x * w, ti.i32), w - 1)
    row = ti.min(ti.cast(uv.y * h, ti.i32), h - 1)
    p = cdf_mass(sc, off + h * w, row) * cdf_mass(sc, off + row * w, col)
    sin_theta = ti.sqrt(local.x * local.x + local.z * local.z)  # exact near the poles, unlike 1 - y^2
    pdf = 0.0
    if sin_theta > 0.0:
        pdf = p * w * h / (2.0 * PI * PI * sin_theta)
    return pdf


@ti.func
def environment_lookup(sc: ti.template(), d: vec3):
    """(texture, uv, scale) of the radiance arriving along -d from the environment emitter
    (texture -1: none). Lookups return a texture reference so that callers evaluate textures
    at a single call site."""
    e = sc.scene_i[L.SC_ENV_EMITTER]
    tex = -1
    uv = vec2(0.0)
    scale = 1.0
    if ti.static(sc.features & EMITTERS):
        if e >= 0:
            tex = sc.em_i[e, L.EI_TEX]
            if sc.em_i[e, L.EI_TYPE] == L.EMITTER_ENVMAP:
                uv = envmap_uv(_rot(sc.em_f, e, L.EF_TO_LOCAL, d))
                scale = sc.em_f[e, L.EF_SCALE]
    return tex, uv, scale


@ti.func
def pdf_environment(sc: ti.template(), d: vec3) -> ti.f32:
    e = sc.scene_i[L.SC_ENV_EMITTER]
    pdf = 0.0
    if ti.static(sc.features & EMITTERS):
        if e >= 0:
            if sc.em_i[e, L.EI_TYPE] == L.EMITTER_CONSTANT:
                pdf = INV_FOUR_PI
            else:
                pdf = envmap_pdf(sc, e, _rot(sc.em_f, e, L.EF_TO_LOCAL, d))
            pdf /= ti.cast(sc.scene_i[L.SC_NUM_EMITTERS], ti.f32)
    return pdf


# ---- area emitters ----
@ti.func
def area_lookup(sc: ti.template(), shape: ti.i32, n: vec3, d: vec3) -> ti.i32:
    """Radiance texture of `shape`'s area emitter if the ray (direction d) sees its front side,
    else -1."""
    e = sc.shape_i[shape, L.SI_EMITTER]
    tex = -1
    if e >= 0 and n.dot(d) < 0.0:
        tex = sc.em_i[e, L.EI_TEX]
    return tex


@ti.func
def pdf_area(sc: ti.template(), shape: ti.i32, ref_p: vec3, p: vec3, n: vec3) -> ti.f32:
    """Solid-angle density of sampling point p (normal n) of an area emitter from ref_p."""
    e = sc.shape_i[shape, L.SI_EMITTER]
    pdf = 0.0
    if e >= 0:
        v = p - ref_p
        pdf = area_solid_angle_pdf(v.x, v.y, v.z, n.x, n.y, n.z, sc.em_f[e, L.EF_AREA],
                                   sc.scene_i[L.SC_NUM_EMITTERS])
    return pdf


@ti.func
def area_solid_angle_pdf(vx: ti.template(), vy: ti.template(), vz: ti.template(), nx: ti.template(),
                         ny: ti.template(), nz: ti.template(), area: ti.template(), num_emitters: ti.template()):
    """Solid-angle density of a uniform area sample at offset v from the reference point, on a
    surface of normal n and `area`, its emitter one of `num_emitters` chosen uniformly; on
    components, scalars or lane vectors (0 where v is tangent or the area is 0)."""
    dist2 = vx * vx + vy * vy + vz * vz
    cos_e = ti.abs(nx * vx + ny * vy + nz * vz) / ti.sqrt(ti.select(dist2 > 0.0, dist2, 1.0))
    ok = (cos_e > 0.0) & (area > 0.0)
    return ti.select(ok, dist2 / ti.select(ok, cos_e * area, 1.0), 0.0) / ti.cast(num_emitters, ti.f32)


@ti.func
def _sample_area_point(sc: ti.template(), e: ti.i32, s: vec2):
    """Uniform point on the emitter's surface: (p, n, uv, triangle or -1, barycentrics)."""
    shape = sc.em_i[e, L.EI_SHAPE]
    kind = sc.shape_i[shape, L.SI_TYPE]
    p = vec3(0.0)
    n = vec3(0.0, 0.0, 1.0)
    uv = vec2(0.0)
    tri = -1
    b = vec2(0.0)
    if kind == L.PRIM_TRIANGLE:
        k, u = sample_cdf(sc, sc.em_i[e, L.EI_CDF_OFFSET], sc.em_i[e, L.EI_CDF_COUNT], s.x)
        tri = sc.shape_i[shape, L.SI_TRI_OFFSET] + k
        b = square_to_uniform_triangle(vec2(u, s.y))
        e1 = sc.tri_p[tri, 1]
        e2 = sc.tri_p[tri, 2]
        p = sc.tri_p[tri, 0] + b.x * e1 + b.y * e2
        n = e1.cross(e2).normalized()
        uv = triangle_uv(sc, tri, b.x, b.y, sc.shape_i[shape, L.SI_HAS_UV])
    elif ti.static(sc.features & ANALYTIC_SHAPES):
        if kind == L.PRIM_SPHERE:
            local = square_to_uniform_sphere(s)
            c = sphere_center(sc, shape)
            p = c + sc.shape_f[shape, L.SF_RADIUS] * local
            n = local
            uv = sphere_uv(local)
        else:
            q = square_to_uniform_disk_concentric(s)
            p = affine_point(sc.shape_f, shape, L.SF_TO_WORLD, vec3(q.x, q.y, 0.0))
            n = affine_normal(sc.shape_f, shape, L.SF_TO_LOCAL, vec3(0.0, 0.0, 1.0))
            phi = ti.atan2(q.y, q.x)
            if phi < 0.0:
                phi += 2.0 * PI
            uv = vec2(q.norm(), phi * (0.5 / PI))
    if sc.shape_i[shape, L.SI_FLIP_NORMALS]:
        n = -n
    return p, n, uv, tri, b


@ti.func
def is_point_light(es: ti.template()) -> ti.i32:
    """Whether the emitter sample `es` comes from a point light: a delta sample at a finite
    distance (environment samples sit at INF)."""
    return es.delta and es.dist < INF


@ti.func
def no_emitter_sample() -> EmitterSample:
    """An emitter sample that contributes nothing (pdf 0)."""
    return EmitterSample(d=vec3(0.0, 0.0, 1.0), dist=INF, pdf=0.0, weight=vec3(0.0), delta=0, emitter=-1,
                         tex=-1, uv=vec2(0.0), factor=0.0, p=vec3(0.0), n=vec3(0.0), tri=-1, b=vec2(0.0))


@ti.func
def sample_emitter(sc: ti.template(), ref_p: vec3, s_select: ti.f32, s: vec2) -> EmitterSample:
    """Sample a direction towards one emitter (Mitsuba's `Scene::sample_emitter_direction`)."""
    es = no_emitter_sample()
    n_em = sc.scene_i[L.SC_NUM_EMITTERS]
    if n_em > 0:
        e = ti.min(ti.cast(s_select * n_em, ti.i32), n_em - 1)
        es.emitter = e
        sel = 1.0 / ti.cast(n_em, ti.f32)
        kind = sc.em_i[e, L.EI_TYPE]
        tex = -1  # radiance texture, evaluated once below at tex_uv, times factor
        tex_uv = vec2(0.0)
        factor = 0.0
        if kind == L.EMITTER_AREA:
            p, n, uv, tri, bary = _sample_area_point(sc, e, s)
            v = p - ref_p
            dist2 = v.dot(v)
            if dist2 > 0.0:
                dist = ti.sqrt(dist2)
                d = v / dist
                cos_e = -n.dot(d)
                area = sc.em_f[e, L.EF_AREA]
                if cos_e > 0.0 and area > 0.0:
                    es.d = d
                    es.dist = dist
                    es.pdf = dist2 / (cos_e * area) * sel
                    tex = sc.em_i[e, L.EI_TEX]
                    tex_uv = uv
                    factor = 1.0 / es.pdf
                    es.p = p
                    es.n = n
                    es.tri = tri
                    es.b = bary
        elif ti.static(sc.features & EMITTERS):
            if kind == L.EMITTER_POINT:
                p = vec3(sc.em_f[e, L.EF_POSITION], sc.em_f[e, L.EF_POSITION + 1], sc.em_f[e, L.EF_POSITION + 2])
                v = p - ref_p
                dist2 = v.dot(v)
                if dist2 > 0.0:
                    es.dist = ti.sqrt(dist2)
                    es.d = v / es.dist
                    es.pdf = sel
                    es.delta = 1
                    es.p = p
                    tex = sc.em_i[e, L.EI_TEX]
                    factor = 1.0 / (dist2 * sel)
            elif kind == L.EMITTER_CONSTANT:
                es.d = square_to_uniform_sphere(s)
                es.pdf = INV_FOUR_PI * sel
                tex = sc.em_i[e, L.EI_TEX]
                factor = 1.0 / es.pdf
            else:  # envmap
                w = sc.em_i[e, L.EI_CDF_COUNT]
                h = sc.em_i[e, L.EI_CDF_ROWS]
                off = sc.em_i[e, L.EI_CDF_OFFSET]
                row, fv = sample_cdf(sc, off + h * w, h, s.y)
                col, fu = sample_cdf(sc, off + row * w, w, s.x)
                u = (col + fu) / w
                v = (row + fv) / h
                phi = 2.0 * PI * u
                theta = PI * v
                st = ti.sin(theta)
                local = vec3(ti.sin(phi) * st, ti.cos(theta), -ti.cos(phi) * st)
                pdf = envmap_pdf(sc, e, local)
                if pdf > 0.0:
                    es.d = _rot(sc.em_f, e, L.EF_TO_WORLD, local).normalized()
                    es.pdf = pdf * sel
                    tex = sc.em_i[e, L.EI_TEX]
                    tex_uv = vec2(u, v)
                    factor = sc.em_f[e, L.EF_SCALE] / es.pdf
        if tex >= 0:
            es.weight = eval_texture(sc, tex, tex_uv) * factor
            es.tex = tex
            es.uv = tex_uv
            es.factor = factor
    return es
