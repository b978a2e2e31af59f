"""Kernel entry points: one launch renders (or differentiates) `spp` samples of every pixel.

Scene arrays arrive as one argument pack (view.SceneArrays), so one compiled kernel serves every
scene. The integrator and the mode are static: each (integrator, mode) pair compiles once.
"""

import taichi as ti

from .. import layout as L
from ..device import rng
from ..device.camera import camera_ray_row, gaussian_weight, pixel_camera
from ..device.derivatives import MODE_ADJOINT, MODE_FORWARD, MODE_PRIMAL, ADView
from ..device.direct import direct_radiance
from ..device.path_tracer import path_sample
from ..view import F_1, IMG, V3_1, SceneArrays, SceneView

vec2 = ti.math.vec2
vec3 = ti.math.vec3

INTEGRATOR_PATH = 0
INTEGRATOR_DIRECT = 1

__all__ = ["INTEGRATOR_DIRECT", "INTEGRATOR_PATH", "MODE_ADJOINT", "MODE_FORWARD", "MODE_PRIMAL", "render_border_kernel",
           "render_kernel"]


@ti.func
def sample_delta(image_grad: ti.template(), weight: ti.template(), y: ti.i32, x: ti.i32, pos: vec2,
                 rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32) -> vec3:
    """dLoss/d(sample value): the pixel adjoints of every pixel the sample reaches, times the
    sample's share of that pixel (filter weight / total weight of the pixel)."""
    height = image_grad.shape[0]
    width = image_grad.shape[1]
    delta = vec3(0.0)
    if rfilter == L.RFILTER_BOX:
        if weight[y, x] > 0.0:
            delta = image_grad[y, x] / weight[y, x]
    else:
        r = ti.cast(ti.ceil(filter_radius - 0.5), ti.i32)
        for dy, dx in ti.ndrange((-r, r + 1), (-r, r + 1)):
            px = x + dx
            py = y + dy
            if 0 <= px < width and 0 <= py < height and weight[py, px] > 0.0:
                w = gaussian_weight(px + 0.5 - pos.x, filter_stddev, filter_radius) * gaussian_weight(
                    py + 0.5 - pos.y, filter_stddev, filter_radius
                )
                delta += image_grad[py, px] * (w / weight[py, px])
    return delta


@ti.func
def splat(accum: ti.template(), weight: ti.template(), y: ti.i32, x: ti.i32, pos: vec2, value: vec3,
          rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32, overwrite: ti.i32):
    """Add one sample (film position `pos`, inside pixel (y, x)) to the pixels its filter reaches.
    NaN samples are dropped: one must not poison the pixel.

    `overwrite` (box filter only): the sample is the pixel's first of a render, and replaces
    what the buffers held, so that they need no clearing pass beforehand.

    The box filter adds to pixel (y, x) only, and both kernels give all samples of a pixel to
    one thread: plain adds, no atomics (an atomic float add is a compare-and-swap loop on x86,
    which perf showed as 8 % of a Cornell box render). The Gaussian filter reaches neighbours
    that other threads write: atomic adds."""
    valid = value.x == value.x and value.y == value.y and value.z == value.z
    if rfilter == L.RFILTER_BOX:
        if overwrite:
            accum[y, x] = ti.select(valid, value, vec3(0.0))
            weight[y, x] = ti.select(valid, 1.0, 0.0)
        elif valid:
            accum[y, x] = accum[y, x] + value
            weight[y, x] = weight[y, x] + 1.0
    elif valid:
        height = accum.shape[0]
        width = accum.shape[1]
        r = ti.cast(ti.ceil(filter_radius - 0.5), ti.i32)
        for dy, dx in ti.ndrange((-r, r + 1), (-r, r + 1)):
            px = x + dx
            py = y + dy
            if 0 <= px < width and 0 <= py < height:
                w = gaussian_weight(px + 0.5 - pos.x, filter_stddev, filter_radius) * gaussian_weight(
                    py + 0.5 - pos.y, filter_stddev, filter_radius
                )
                if w > 0.0:
                    ti.atomic_add(accum[py, px], w * value)
                    ti.atomic_add(weight[py, px], w)


@ti.func
def render_pixel(sc: ti.template(), ad: ti.template(), accum: ti.template(), weight: ti.template(),
                 image_grad: ti.template(), y: ti.i32, x: ti.i32, ring: ti.i32, integrator: ti.template(),
                 mode: ti.template(), seed: ti.u32, spp: ti.i32, sample_offset: ti.i32,
                 int_a: ti.i32, int_b: ti.i32, hide_emitters: ti.i32,
                 rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32):
    """`spp` samples of pixel (y, x). `ring` < 0: a film pixel (camera and random keys from
    camera.pixel_camera); else pixel `ring` of the border the film samples around the image
    (`sample_border`, render_border_kernel): the nearest camera, keys W * H + ring."""
    width = accum.shape[1]
    height = accum.shape[0]
    row, index = pixel_camera(sc, y, ti.min(ti.max(x, 0), width - 1), width, height)
    if ring >= 0:
        index = width * height + ring
    pixel = ti.cast(index, ti.u32)
    total = vec3(0.0)
    for s in range(spp):
        key = rng.sample_key(seed, pixel, ti.cast(s + sample_offset, ti.u32))
        pos = vec2(x, y) + rng.rand2(key, rng.DIM_FILM)
        crop = L.CAM_CROP
        film_uv = vec2((pos.x + sc.cam[crop]) / sc.cam[crop + 2], (pos.y + sc.cam[crop + 1]) / sc.cam[crop + 3])
        o, d, tmax = camera_ray_row(sc, row, film_uv)
        value = vec3(0.0)
        if ti.static(integrator == INTEGRATOR_PATH):
            delta = vec3(0.0)
            if ti.static(mode == MODE_ADJOINT):
                delta = sample_delta(image_grad, weight, y, x, pos, rfilter, filter_radius, filter_stddev)
            radiance, derivative = path_sample(sc, ad, key, o, d, tmax, int_a, int_b, hide_emitters, delta, mode)
            value = derivative if ti.static(mode == MODE_FORWARD) else radiance
        else:
            value = direct_radiance(sc, key, o, d, tmax, int_a, int_b, hide_emitters)
        if not (value.x == value.x and value.y == value.y and value.z == value.z):
            value = vec3(0.0)  # a NaN sample must not poison the pixel
        if ti.static(mode != MODE_ADJOINT):
            if rfilter == L.RFILTER_BOX:
                total += value
            else:
                splat(accum, weight, y, x, pos, value, rfilter, filter_radius, filter_stddev, 0)
    if ti.static(mode != MODE_ADJOINT):
        if rfilter == L.RFILTER_BOX:
            accum[y, x] += total
            weight[y, x] += ti.cast(spp, ti.f32)


@ti.kernel
def render_kernel(
    scene: SceneArrays,
    grad_rgb: V3_1, grad_texels: V3_1, grad_vtx: V3_1, grad_em: F_1,
    tan_rgb: V3_1, tan_texels: V3_1, tan_vtx: V3_1, tan_em: F_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), integrator: ti.template(), mode: ti.template(), seed: ti.u32, spp: ti.i32, sample_offset: ti.i32,
    int_a: ti.i32, int_b: ti.i32, hide_emitters: ti.i32,
    rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32,
):
    """Primal: add `spp` samples per pixel to `accum` and their filter weights to `weight`
    (normalised afterwards). Forward: the same with derivative samples. Adjoint: read the
    image adjoint `image_grad` (and the primal `weight`) and scatter gradients.

    `features`: the plugin families compiled in (view.py); `int_a`, `int_b`: (max_depth, rr_depth)
    for `path`, (emitter_samples, bsdf_samples) for `direct`.
    """
    for y, x in ti.ndrange(accum.shape[0], accum.shape[1]):
        render_pixel(
            SceneView(features, scene),
            ADView(grad_rgb, grad_texels, grad_vtx, grad_em, tan_rgb, tan_texels, tan_vtx, tan_em),
            accum, weight, image_grad, y, x, -1, integrator, mode, seed, spp, sample_offset, int_a, int_b,
            hide_emitters, rfilter, filter_radius, filter_stddev,
        )


@ti.kernel
def render_border_kernel(
    scene: SceneArrays,
    grad_rgb: V3_1, grad_texels: V3_1, grad_vtx: V3_1, grad_em: F_1,
    tan_rgb: V3_1, tan_texels: V3_1, tan_vtx: V3_1, tan_em: F_1,
    accum: IMG, weight: ti.types.ndarray(dtype=ti.f32, ndim=2), image_grad: IMG,
    features: ti.template(), integrator: ti.template(), mode: ti.template(), seed: ti.u32, spp: ti.i32,
    sample_offset: ti.i32, int_a: ti.i32, int_b: ti.i32, hide_emitters: ti.i32,
    rfilter: ti.i32, filter_radius: ti.f32, filter_stddev: ti.f32, border: ti.i32,
):
    """The film's `sample_border` (Mitsuba's): `render_kernel` for the pixels of a ring `border`
    pixels wide around the film (Mitsuba's rfilter border_size, ceil(radius - 0.5)), whose
    samples reach the film's outer pixels through the filter (splat and sample_delta skip
    pixels off the film). Ring pixel j (row-major over the enlarged film, the film's own pixels
    skipped) draws random numbers keyed by index W * H + j, apart from every film pixel's; its
    camera is the nearest row of a batch sensor's table."""
    height = accum.shape[0]
    width = accum.shape[1]
    outer_w = width + 2 * border
    for j in range((height + 2 * border) * outer_w):
        y = j // outer_w - border
        x = j - (y + border) * outer_w - border
        if not (0 <= y < height and 0 <= x < width):
            render_pixel(
                SceneView(features, scene),
                ADView(grad_rgb, grad_texels, grad_vtx, grad_em, tan_rgb, tan_texels, tan_vtx, tan_em),
                accum, weight, image_grad, y, x, j, integrator, mode, seed, spp,
                sample_offset, int_a, int_b, hide_emitters, rfilter, filter_radius, filter_stddev,
            )
