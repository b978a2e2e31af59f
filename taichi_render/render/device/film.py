"""Film helpers: developing splatted samples into the sensor's field, zeroing arrays."""

import taichi as ti

vec3 = ti.math.vec3


@ti.kernel
def develop_kernel(accum: ti.types.ndarray(dtype=vec3, ndim=2), weight: ti.types.ndarray(dtype=ti.f32, ndim=2),
                   dst: ti.template()):
    """dst = accum / weight per pixel (0 where no weight), in one pass; the buffers are kept."""
    for y, x in dst:
        w = weight[y, x]
        dst[y, x] = accum[y, x] / w if w > 0.0 else vec3(0.0)


@ti.kernel
def field_grad_to_ndarray(src: ti.template(), dst: ti.types.ndarray(dtype=vec3, ndim=2)):
    for y, x in src:
        dst[y, x] = src.grad[y, x]


# Zeroing kernels compiled once: `Ndarray.fill` on vector ndarrays builds a new kernel per
# call in Taichi 1.7 (measured: 4.5 ms of every optimisation step went there).
@ti.kernel
def zero_v3_1(a: ti.types.ndarray(dtype=vec3, ndim=1)):
    for i in a:
        a[i] = vec3(0.0)


@ti.kernel
def zero_v3_2(a: ti.types.ndarray(dtype=vec3, ndim=2)):
    for i, j in a:
        a[i, j] = vec3(0.0)


@ti.kernel
def zero_f_1(a: ti.types.ndarray(dtype=ti.f32, ndim=1)):
    for i in a:
        a[i] = 0.0


@ti.kernel
def zero_f_2(a: ti.types.ndarray(dtype=ti.f32, ndim=2)):
    for i, j in a:
        a[i, j] = 0.0


def zero(a) -> None:
    """Set a 1-D/2-D f32 or vec3 ndarray to zero with a kernel compiled once."""
    is_vec = getattr(a, "element_shape", ()) not in ((), None) and len(a.element_shape) > 0
    kernels = {(1, True): zero_v3_1, (2, True): zero_v3_2, (1, False): zero_f_1, (2, False): zero_f_2}
    kernels[(len(a.shape), is_vec)](a)


@ti.kernel
def zero_gradient_arrays(rgb: ti.types.ndarray(dtype=ti.math.vec3, ndim=1),
                         texels: ti.types.ndarray(dtype=ti.math.vec3, ndim=1),
                         vtx: ti.types.ndarray(dtype=ti.math.vec3, ndim=1),
                         area: ti.types.ndarray(dtype=ti.f32, ndim=1)):
    """Zero the four gradient arrays of a scene (one per optimisation step) in one parallel loop:
    one loop per array would be four hand-overs to the thread pool, most of them for a few
    entries."""
    n = ti.max(ti.max(rgb.shape[0], texels.shape[0]), ti.max(vtx.shape[0], area.shape[0]))
    for i in range(n):
        if i < rgb.shape[0]:
            rgb[i] = ti.math.vec3(0.0)
        if i < texels.shape[0]:
            texels[i] = ti.math.vec3(0.0)
        if i < vtx.shape[0]:
            vtx[i] = ti.math.vec3(0.0)
        if i < area.shape[0]:
            area[i] = 0.0
