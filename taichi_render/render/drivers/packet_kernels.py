"""The path tracer on ray packets: each thread runs `LANES` camera samples in lockstep.

Every path vertex of the packet is one round of two steps:
1. the packet's rays are traced together (packet_trace.py, SIMD across lanes; at the last
   vertex, towards the emitters only where the scene allows: packet_final.py);
2. if every live lane sits on a diffuse triangle (or escaped a scene without an environment
   emitter), the vertex is shaded on all lanes at once, its shadow rays traced as a packet
   (packet_diffuse.py); otherwise each lane runs the per-vertex code of the
   one-ray-at-a-time `path_sample` (`vertex_setup`, `shadow_ray`, `path_vertex`: any material).

Both run the estimator of `path_sample` with the same random numbers (a lane's numbers depend
on its pixel and sample index only), so both drivers compute the same estimates.

Lane `l` of packet `k` takes sample `g = k * LANES + l`: sample `g % spp` of pixel `g // spp`,
pixels counted in 4 x 4 tiles (row-major tiles, row-major inside); a thread runs the packets of
whole pixels. The sub-images of a `batch` sensor (camera.py) are counted one after the other,
each padded to whole tiles: a sub-image has a multiple of LANES samples, so the lanes of a packet
share one camera. Path state lives in a small per-thread matrix (packet_state.py).
"""

import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.camera import camera_rows
from ..device.deferred_terms import apply_kept
from ..device.derivatives import MODE_ADJOINT, MODE_FORWARD, MODE_PRIMAL, ADView
from ..view import F_1, IMG, V3_1, SceneArrays, SceneView
from . import packet_state as P
from .kernels import sample_delta, splat
from .packet_diffuse import diffuse_vertex
from .packet_final import emitters_only, trace_to_emitters
from .packet_gradients import flush_rgb_gradients, new_table
from .packet_lane import lane_vertex
from .packet_random import pcg_lanes, rand_lanes
from .packet_trace import LANES, VF, VI, VU, any_lane, trace_packet

vec2 = ti.math.vec2
vec3 = ti.math.vec3

TILE = 4  # pixels are visited in TILE x TILE tiles: the rays of a packet stay close


@ti.func
def padded_samples(height: ti.i32, width: ti.i32, spp: ti.i32, rows: ti.i32) -> ti.i32:
    """Samples of the image padded to whole tiles (each of the `rows` sub-images of a batch
    sensor padded on its own)."""
    return rows * ((height + TILE - 1) // TILE * TILE) * ((width // rows + TILE - 1) // TILE * TILE) * spp


@ti.func
def packet_pixels(first: ti.i32, n: ti.i32, spp: ti.i32, width: ti.i32, height: ti.i32, rows: ti.i32):
    """The samples of the packet starting at sample `first` (of `n`): per lane (pixel index for
    the random numbers (camera.pixel_camera), sample index, y, x, whether the sample exists), and
    the packet's camera row. Sample g is sample g % spp of pixel g // spp, pixels counted in
    TILE x TILE tiles, sub-image after sub-image (`rows` of them). Lane 0 is found by division,
    the other lanes by stepping from it (integer division is slow, and was a few percent of a
    render)."""
    q = first // spp
    s = first - q * spp
    sub_w = width // rows
    tiles_x = (sub_w + TILE - 1) // TILE
    tiles_per_row = tiles_x * ((height + TILE - 1) // TILE)
    tile = q // (TILE * TILE)
    within = q - tile * (TILE * TILE)
    row = tile // tiles_per_row
    tile -= row * tiles_per_row
    ty = tile // tiles_x
    tx = tile - ty * tiles_x
    pixel, sample, ys, xs, exists = VI(0), VI(0), VI(0), VI(0), VI(0)
    for l in ti.static(range(LANES)):
        x = tx * TILE + within % TILE
        y = ty * TILE + within // TILE
        pixel[l] = y * sub_w + x
        sample[l] = s
        ys[l] = y
        xs[l] = x
        exists[l] = first + l < n and x < sub_w and y < height
        # the next sample: next pixel, next tile, next row of tiles
        s += 1
        next_pixel = s == spp
        s = ti.select(next_pixel, 0, s)
        within += ti.select(next_pixel, 1, 0)
        next_tile = within == TILE * TILE
        within = ti.select(next_tile, 0, within)
        tx += ti.select(next_tile, 1, 0)
        next_row = tx == tiles_x
        tx = ti.select(next_row, 0, tx)
        ty += ti.select(next_row, 1, 0)
    # sub-image `row`: pixel indices and film columns after those of the sub-images before it
    return pixel + row * height * sub_w, sample, ys, xs + row * sub_w, exists, row


@ti.func
def _start_paths(sc: ti.template(), S: ti.template(), keys: ti.template(), image_grad: ti.template(),
                 weight: ti.template(), pix: VI, smp: VI, ys: VI, xs: VI, live: VI, row: ti.i32,
                 seed: ti.u32, sample_offset: ti.i32, max_depth: ti.i32, rfilter: ti.i32,
                 filter_radius: ti.f32, filter_stddev: ti.f32, mode: ti.template()):
    """Camera rays of the packet's lanes (camera.camera_ray_row on all lanes, camera `row`),
    whose samples are `packet_pixels`' (lanes past the last sample start dead)."""
    pixel = ti.cast(ti.select(live != 0, pix, 0), ti.u32)
    sample = ti.cast(ti.select(live != 0, smp + sample_offset, 0), ti.u32)
    fx = ti.select(live != 0, ti.cast(xs, ti.f32), 0.0)
    fy = ti.select(live != 0, ti.cast(ys, ti.f32), 0.0)
    lane_keys = pcg_lanes(pcg_lanes(rng.pcg(seed) ^ pixel) + sample)  # rng.sample_key
    keys[:] = lane_keys
    pos_x = fx + rand_lanes(lane_keys, rng.DIM_FILM)
    pos_y = fy + rand_lanes(lane_keys, rng.DIM_FILM + 1)
    crop = L.CAM_CROP
    c = row * L.CAM_WIDTH
    film_u = (pos_x + sc.cam[crop]) / sc.cam[crop + 2] - ti.cast(row, ti.f32)
    film_v = (pos_y + sc.cam[crop + 1]) / sc.cam[crop + 3]
    lx = (0.5 - film_u) * 2.0 * sc.cam[c + L.CAM_TAN_X]
    ly = (0.5 - film_v) * 2.0 * sc.cam[c + L.CAM_TAN_Y]
    inv = 1.0 / ti.sqrt(lx * lx + ly * ly + 1.0)
    lx, ly, lz = lx * inv, ly * inv, inv
    near_t = sc.cam[c + L.CAM_NEAR] / lz
    far_t = sc.cam[c + L.CAM_FAR] / lz
    dx = sc.cam[c + 0] * lx + sc.cam[c + 1] * ly + sc.cam[c + 2] * lz
    dy = sc.cam[c + 4] * lx + sc.cam[c + 5] * ly + sc.cam[c + 6] * lz
    dz = sc.cam[c + 8] * lx + sc.cam[c + 9] * ly + sc.cam[c + 10] * lz
    inv = 1.0 / ti.sqrt(dx * dx + dy * dy + dz * dz)
    dx, dy, dz = dx * inv, dy * inv, dz * inv
    ox = sc.cam[c + 3] + dx * near_t
    oy = sc.cam[c + 7] + dy * near_t
    oz = sc.cam[c + 11] + dz * near_t
    alive = live != 0
    P.set_row3(S, P.O, ox, oy, oz)
    P.set_row3(S, P.D, dx, dy, dz)
    P.set_row(S, P.TMAX, ti.select(alive, far_t - near_t, -1.0))
    P.set_row3(S, P.PREV_P, ox, oy, oz)
    for r in ti.static([P.TP, P.TP + 1, P.TP + 2, P.ETA, P.PREV_PDF, P.PREV_DELTA]):
        P.set_row(S, r, VF(1.0))
    for r in ti.static([P.GATHERED, P.GATHERED + 1, P.GATHERED + 2, P.DTOTAL, P.DTOTAL + 1, P.DTOTAL + 2]):
        P.set_row(S, r, VF(0.0))
    P.set_row(S, P.ALIVE, ti.select(alive & (max_depth != 0), 1.0, 0.0))
    if ti.static(mode != MODE_PRIMAL):
        P.set_row(S, P.PREV_TRI, VF(0.0))  # no previous vertex
    P.set_row(S, P.POS, pos_x)
    P.set_row(S, P.POS + 1, pos_y)
    if ti.static(mode == MODE_ADJOINT):
        for l in range(LANES):
            if live[l]:
                P.set_lane3(S, l, P.DELTA, sample_delta(image_grad, weight, ys[l], xs[l], vec2(pos_x[l], pos_y[l]),
                                                        rfilter, filter_radius, filter_stddev))


@ti.func
def generic_vertex(sc: ti.template(), ad: ti.template(), S: ti.template(), keys: ti.template(), alive: ti.template(),
                   t: ti.template(), prim: ti.template(), b1: ti.template(), b2: ti.template(), depth: ti.i32,
                   max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32, replay: ti.i32, single_pass: ti.i32,
                   mode: ti.template()):
    """One vertex of every live lane with the per-lane code of path_tracer.py (any material),
    each lane's shadow ray traced on its own. (Tracing them as a packet meant setting every
    vertex up twice, before and after the packet's shadow rays; one pass per lane is simpler,
    and on the glass-sphere scene, where most vertices come here, it was no slower within this
    machine's noise.)"""
    for l in range(LANES):
        if alive[l]:
            lane_vertex(sc, ad, S, keys[l], l, t[l], prim[l], b1[l], b2[l], depth, max_depth, rr_depth,
                        hide_emitters, replay, single_pass, mode)


@ti.func
def packet_paths(sc: ti.template(), ad: ti.template(), accum: ti.template(), weight: ti.template(),
                 image_grad: ti.template(), packet: ti.i32, mode: ti.template(), seed: ti.u32, spp: ti.i32,
                 sample_offset: ti.i32, max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32,
                 shape_grads: ti.i32, single_pass: ti.i32, rfilter: ti.i32, filter_radius: ti.f32,
                 filter_stddev: ti.f32, overwrite: ti.i32):
    height = accum.shape[0]
    width = accum.shape[1]
    rows = camera_rows(sc)
    n = padded_samples(height, width, spp, rows)
    first = packet * LANES
    S = P.new_state(mode)
    G = new_table()  # adjoint: rgb texture gradients of the packet (packet_gradients.py)
    keys = VU(0)
    pix, smp, ys, xs, exists, row = packet_pixels(first, n, spp, width, height, rows)
    passes = 1 if ti.static(mode == MODE_PRIMAL) else 2 - single_pass
    for pass_index in range(passes):
        replay = pass_index == 1 or single_pass
        _start_paths(sc, S, keys, image_grad, weight, pix, smp, ys, xs, exists, row, seed, sample_offset,
                     max_depth, rfilter, filter_radius, filter_stddev, mode)
        depth = 0
        while any_lane(P.row(S, P.ALIVE) > 0.5):
            alive = P.row(S, P.ALIVE) > 0.5
            ox, oy, oz = P.row3(S, P.O)
            dx, dy, dz = P.row3(S, P.D)
            tmax = ti.select(alive, P.row(S, P.TMAX), -1.0)
            t, prim, b1, b2 = VF(0.0), VI(-1), VF(0.0), VF(0.0)
            if emitters_only(sc, depth, max_depth):
                t, prim, b1, b2 = trace_to_emitters(sc, ox, oy, oz, dx, dy, dz, tmax)
            else:
                t, prim, b1, b2 = trace_packet(sc, ox, oy, oz, dx, dy, dz, tmax, False)
            handled = diffuse_vertex(sc, ad, S, G, keys, t, prim, b1, b2, depth, max_depth, rr_depth, hide_emitters,
                                     replay, single_pass, shape_grads, mode)
            # a scene of diffuse triangles and area lights has every primal vertex handled above
            if ti.static(mode != MODE_PRIMAL or sc.features != 0):
                if not handled:
                        generic_vertex(sc, ad, S, keys, alive, t, prim, b1, b2, depth, max_depth, rr_depth,
                                   hide_emitters, replay, single_pass, mode)
            depth += 1
        if not replay:
            gx, gy, gz = P.row3(S, P.GATHERED)
            P.set_row3(S, P.TOTAL, gx, gy, gz)
        if ti.static(mode != MODE_PRIMAL):
            if single_pass:
                apply_kept(sc, ad, S, G, depth, mode)
    if ti.static(mode == MODE_ADJOINT):
        flush_rgb_gradients(ad, G)
    # film
    if ti.static(mode != MODE_ADJOINT):
        row = P.DTOTAL if ti.static(mode == MODE_FORWARD) else P.TOTAL
        one_pixel = (exists != 0) & (ys == ys[0]) & (xs == xs[0])
        if rfilter == L.RFILTER_BOX and not any_lane(~one_pixel):
            # every lane is a sample of one pixel (spp >= LANES): their sum is added once
            # (splat's box filter, NaN samples dropped)
            vx, vy, vz = P.row3(S, row)
            valid = (vx == vx) & (vy == vy) & (vz == vz)  # noqa: PLR0124 (false for NaN)
            total = vec3(ti.select(valid, vx, 0.0).sum(), ti.select(valid, vy, 0.0).sum(),
                         ti.select(valid, vz, 0.0).sum())
            count = ti.cast(ti.select(valid, 1, 0).sum(), ti.f32)
            y, x = ys[0], xs[0]
            if overwrite and smp[0] == 0:
                accum[y, x] = total
                weight[y, x] = count
            else:
                accum[y, x] = accum[y, x] + total
                weight[y, x] = weight[y, x] + count
        else:
            for l in range(LANES):
                if exists[l]:
                    splat(accum, weight, ys[l], xs[l], vec2(S[P.POS, l], S[P.POS + 1, l]), P.lane3(S, l, row),
                          rfilter, filter_radius, filter_stddev, overwrite and smp[l] == 0)


@ti.kernel
def render_packets_kernel(
    scene: SceneArrays,
    grad_rgb: V3_1, grad_texels: V3_1, grad_vtx: V3_1, grad_em: F_1,
    tan_rgb: V3_1, tan_texels: V3_1, tan_vtx: V3_1, tan_em: F_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), mode: ti.template(), seed: ti.u32, spp: ti.i32, sample_offset: ti.i32,
    max_depth: ti.i32, rr_depth: ti.i32, hide_emitters: ti.i32, shape_grads: ti.i32, single_pass: ti.i32,
    rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32, packets_per_group: ti.i32, overwrite: ti.i32,
):
    """The `path` integrator on packets of LANES samples; the arguments of `kernels.render_kernel`
    (the integrator is always `path`; max_depth, rr_depth in place of int_a, int_b), and
    `features`: the plugin families compiled in (view.py), `shape_grads`: whether derivative modes need vertex-position or point-light position terms (the SIMD fast path
    leaves those to the per-lane code), `single_pass`: derivative modes replay each path in one
    pass (deferred_terms.py; the caller checks that it applies), `overwrite`: a box-filtered
    film's first samples replace the buffers' contents (no clearing pass: kernels.splat).

    Packets run in groups of `packets_per_group` (whole pixels: spp / gcd(spp, LANES) packets)
    on one thread each: no pixel's samples are split between threads, so box-filtered images
    are bitwise reproducible."""
    n_packets = (padded_samples(accum.shape[0], accum.shape[1], spp, scene.cam.shape[0] // L.CAM_WIDTH) + LANES - 1) // LANES
    for group in range((n_packets + packets_per_group - 1) // packets_per_group):
        for k in range(packets_per_group):
            packet = group * packets_per_group + k
            if packet < n_packets:
                packet_paths(
                    SceneView(features, scene),
                    ADView(grad_rgb, grad_texels, grad_vtx, grad_em, tan_rgb, tan_texels, tan_vtx, tan_em),
                    accum, weight, image_grad, packet, mode, seed, spp, sample_offset, max_depth, rr_depth,
                    hide_emitters, shape_grads, single_pass, rfilter, filter_radius, filter_stddev, overwrite,
                )
