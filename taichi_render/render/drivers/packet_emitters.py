"""Emitter sampling on all lanes of a packet, when every emitter of the scene is an area
emitter on a triangle mesh (scene flag `SC_TRIANGLE_EMITTERS`; otherwise the per-lane
`emitters.sample_emitter` runs). The same estimator and random numbers as `sample_emitter`;
the triangle choice (a CDF search), vertex and texture lookups stay per lane."""

import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.emitters import sample_cdf
from ..device.intersect import INF
from ..device.textures import eval_texture
from ..device.warp import uniform_triangle
from .packet_random import rand_lanes
from .packet_trace import (
    LANES,
    VF,
    VI,
    lane_max,
    lane_min,
    new_triangle_lanes,
    triangle_rows,
    unit_normal,
)

vec2 = ti.math.vec2


FEW_TRIANGLES = 4  # a single emitter of at most this many triangles is sampled on all lanes


@ti.func
def _one_emitter_few_triangles(sc: ti.template(), T: ti.template(), s_x: VF, s_y: VF):
    """sample_triangle_emitters' lookups on all lanes for a scene whose only emitter has at most
    FEW_TRIANGLES triangles (a rectangle light: 2): the triangle of each lane is chosen by
    comparing its number with every CDF entry (what emitters.sample_cdf's binary search finds),
    and the triangles' data are selected per lane. Fills T; returns (u rescaled in the chosen
    bin, flip, area, radiance x/y/z, texture, u, v)."""
    offset = sc.em_i[0, L.EI_CDF_OFFSET]
    n = sc.em_i[0, L.EI_CDF_COUNT]
    shape = sc.em_i[0, L.EI_SHAPE]
    first = sc.shape_i[shape, L.SI_TRI_OFFSET]
    k = VI(0)
    for j in ti.static(range(FEW_TRIANGLES - 1)):
        if j < n - 1:
            k += ti.select(sc.dist[offset + j] <= s_x, 1, 0)
    cdf_k = VF(0.0)
    prev = VF(0.0)
    for j in ti.static(range(FEW_TRIANGLES)):
        if j < n:
            c = sc.dist[offset + j]
            cdf_k = ti.select(k == j, c, cdf_k)
            prev = ti.select(k == j + 1, c, prev)
    width = cdf_k - prev
    u_tri = ti.select(width > 0.0, (s_x - prev) / ti.select(width > 0.0, width, 1.0), 0.5)
    u_tri = lane_min(lane_max(u_tri, VF(0.0)), VF(0.99999994))
    b1, b2 = uniform_triangle(u_tri, s_y)
    tu, tv = b1, b2
    # each lane's triangle by selects over the few triangles (rows of j >= n are read clamped
    # and selected by no lane); the lanes stay in SIMD registers
    has_uv = sc.shape_i[shape, L.SI_HAS_UV]
    b0 = 1.0 - b1 - b2
    rows = [VF(0.0) for _ in range(9)]
    for j in ti.static(range(FEW_TRIANGLES)):
        tri = ti.min(first + ti.max(ti.min(j, n - 1), 0), sc.tri_p.shape[0] - 1)
        on = k == ti.select(j < n, j, -1)
        for v in ti.static(range(3)):
            p = sc.tri_p[tri, v]
            for c in ti.static(range(3)):
                rows[3 * v + c] = ti.select(on, p[c], rows[3 * v + c])
        if has_uv:
            vi = sc.tri_v[tri]
            t0, t1, t2 = sc.vtx_uv[vi.x], sc.vtx_uv[vi.y], sc.vtx_uv[vi.z]
            tu = ti.select(on, b0 * t0.x + b1 * t1.x + b2 * t2.x, tu)
            tv = ti.select(on, b0 * t0.y + b1 * t1.y + b2 * t2.y, tv)
    for r in ti.static(range(9)):
        T[r, :] = rows[r]
    tex = sc.em_i[0, L.EI_TEX]
    rx, ry, rz = VF(0.0), VF(0.0), VF(0.0)
    if sc.tex_i[tex, L.TI_TYPE] == L.TEX_RGB:
        radiance = sc.tex_rgb[tex]
        rx, ry, rz = VF(radiance.x), VF(radiance.y), VF(radiance.z)
    else:
        for l in range(LANES):
            radiance = eval_texture(sc, tex, vec2(tu[l], tv[l]))
            rx[l], ry[l], rz[l] = radiance.x, radiance.y, radiance.z
    flip = -1.0 if sc.shape_i[shape, L.SI_FLIP_NORMALS] else 1.0
    return u_tri, VF(flip), VF(sc.em_f[0, L.EF_AREA]), rx, ry, rz, VI(tex), tu, tv


@ti.func
def sample_triangle_emitters(sc: ti.template(), keys: ti.template(), depth: ti.i32, active: ti.template(),
                             px: VF, py: VF, pz: VF):
    """Direction towards a uniformly chosen point of a uniformly chosen emitter, from (px, py, pz):
    (dx, dy, dz, dist, pdf, weight x/y/z, factor, texture, u, v) per lane, as EmitterSample
    (pdf 0 where no sample)."""
    n_em = sc.scene_i[L.SC_NUM_EMITTERS]
    u_sel = rand_lanes(keys, rng.bounce_dim(depth, rng.OFS_EMITTER_SELECT))
    s_x = rand_lanes(keys, rng.bounce_dim(depth, rng.OFS_EMITTER_2D))
    s_y = rand_lanes(keys, rng.bounce_dim(depth, rng.OFS_EMITTER_2D + 1))
    e = ti.min(ti.cast(u_sel * ti.cast(n_em, ti.f32), ti.i32), n_em - 1)
    T = new_triangle_lanes()
    u_tri = VF(0.0)
    flip = VF(1.0)
    area = VF(0.0)
    rx, ry, rz = VF(0.0), VF(0.0), VF(0.0)
    tex = VI(-1)
    tu, tv = VF(0.0), VF(0.0)
    if n_em == 1 and sc.em_i[0, L.EI_CDF_COUNT] <= FEW_TRIANGLES:
        u_tri, flip, area, rx, ry, rz, tex, tu, tv = _one_emitter_few_triangles(sc, T, s_x, s_y)
    else:
        # per-emitter and per-triangle lookups are done once for a run of lanes that share them;
        # an rgb radiance is looked up once per emitter
        cur_em = -1
        c_offset = 0
        c_count = 0
        c_first = 0
        c_flip = 1.0
        c_area = 0.0
        c_tex = -1
        c_uv = 0
        c_rgb = 0
        c_radiance = ti.math.vec3(0.0)
        cur_tri = -1
        c_vtx = ti.Vector([0, 0, 0])
        c_T = ti.Vector.zero(ti.f32, 9)
        for l in range(LANES):
            if active[l]:
                if e[l] != cur_em:
                    cur_em = e[l]
                    c_offset = sc.em_i[cur_em, L.EI_CDF_OFFSET]
                    c_count = sc.em_i[cur_em, L.EI_CDF_COUNT]
                    shape = sc.em_i[cur_em, L.EI_SHAPE]
                    c_first = sc.shape_i[shape, L.SI_TRI_OFFSET]
                    c_flip = -1.0 if sc.shape_i[shape, L.SI_FLIP_NORMALS] else 1.0
                    c_area = sc.em_f[cur_em, L.EF_AREA]
                    c_tex = sc.em_i[cur_em, L.EI_TEX]
                    c_uv = sc.shape_i[shape, L.SI_HAS_UV]
                    c_rgb = sc.tex_i[c_tex, L.TI_TYPE] == L.TEX_RGB
                    if c_rgb:
                        c_radiance = sc.tex_rgb[c_tex]
                k, u = sample_cdf(sc, c_offset, c_count, s_x[l])
                tri = c_first + k
                if tri != cur_tri:
                    cur_tri = tri
                    vi = sc.tri_v[tri]
                    c_vtx = ti.Vector([vi.x, vi.y, vi.z])
                    for j in ti.static(range(3)):
                        p = sc.tri_p[tri, j]
                        c_T[3 * j], c_T[3 * j + 1], c_T[3 * j + 2] = p.x, p.y, p.z
                for j in ti.static(range(9)):
                    T[j, l] = c_T[j]
                u_tri[l] = u
                flip[l] = c_flip
                area[l] = c_area
                b1, b2 = uniform_triangle(u, s_y[l])
                uv = vec2(b1, b2)
                if c_uv:
                    uv = (1.0 - b1 - b2) * sc.vtx_uv[c_vtx.x] + b1 * sc.vtx_uv[c_vtx.y] + b2 * sc.vtx_uv[c_vtx.z]
                tex[l] = c_tex
                radiance = c_radiance
                if not c_rgb:
                    radiance = eval_texture(sc, c_tex, uv)
                rx[l], ry[l], rz[l] = radiance.x, radiance.y, radiance.z
                tu[l], tv[l] = uv.x, uv.y
    # the point and the direction towards it
    p0x, p0y, p0z, e1x, e1y, e1z, e2x, e2y, e2z = triangle_rows(T)
    b1, b2 = uniform_triangle(u_tri, s_y)
    vx = p0x + b1 * e1x + b2 * e2x - px
    vy = p0y + b1 * e1y + b2 * e2y - py
    vz = p0z + b1 * e1z + b2 * e2z - pz
    nx, ny, nz = unit_normal(e1x, e1y, e1z, e2x, e2y, e2z, flip)
    dist2 = vx * vx + vy * vy + vz * vz
    dist = ti.sqrt(dist2)
    inv_dist = 1.0 / ti.select(dist2 > 0.0, dist, 1.0)
    dx, dy, dz = vx * inv_dist, vy * inv_dist, vz * inv_dist
    cos_e = -(nx * dx + ny * dy + nz * dz)
    ok = active & (dist2 > 0.0) & (cos_e > 0.0) & (area > 0.0)
    pdf = ti.select(ok, dist2 / ti.select(ok, cos_e * area, 1.0), 0.0) / ti.cast(n_em, ti.f32)
    factor = ti.select(ok, 1.0 / ti.select(ok, pdf, 1.0), 0.0)
    return (ti.select(ok, dx, 0.0), ti.select(ok, dy, 0.0), ti.select(ok, dz, 1.0), ti.select(ok, dist, INF), pdf,
            rx * factor, ry * factor, rz * factor, factor, ti.select(ok, tex, -1), tu, tv)
