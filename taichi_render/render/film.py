"""Film helpers: normalising splatted samples and copying images into the sensor's field."""

import taichi as ti

vec3 = ti.math.vec3


@ti.kernel
def normalize_splats(accum: ti.types.ndarray(dtype=vec3, ndim=2), weight: ti.types.ndarray(dtype=ti.f32, ndim=2)):
    for y, x in accum:
        w = weight[y, x]
        accum[y, x] = accum[y, x] / w if w > 0.0 else vec3(0.0)


@ti.kernel
def ndarray_to_field(src: ti.types.ndarray(dtype=vec3, ndim=2), dst: ti.template()):
    for y, x in dst:
        dst[y, x] = src[y, x]


@ti.kernel
def field_grad_to_ndarray(src: ti.template(), dst: ti.types.ndarray(dtype=vec3, ndim=2)):
    for y, x in src:
        dst[y, x] = src.grad[y, x]


@ti.kernel
def add_ndarray_to_field(src: ti.types.ndarray(dtype=vec3, ndim=2), dst: ti.template()):
    for y, x in dst:
        dst[y, x] += src[y, x]
