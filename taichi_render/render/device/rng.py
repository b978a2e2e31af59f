"""Counter-based random numbers: a value is a pure function of (seed, pixel, sample, dimension).

There is no sampler state to carry: the same path can be replayed exactly (path replay
backpropagation) and the kernels stay differentiable-friendly. The hash is PCG's output
permutation (Jarzynski and Olano, "Hash Functions for GPU Rendering", JCGT 2020).
"""

import taichi as ti

# Random dimensions consumed per path vertex; see `dim_of`.
DIMS_PER_BOUNCE = 8
DIM_FILM = 0  # 2 dims: position inside the pixel
DIM_BOUNCE0 = 2
# offsets inside a bounce
OFS_EMITTER_SELECT = 0
OFS_EMITTER_2D = 1  # 2 dims
OFS_BSDF_1D = 3
OFS_BSDF_2D = 4  # 2 dims
OFS_RR = 6
OFS_EXTRA = 7


@ti.func
def pcg(v: ti.u32) -> ti.u32:
    state = v * ti.u32(747796405) + ti.u32(2891336453)
    word = ((state >> ((state >> ti.u32(28)) + ti.u32(4))) ^ state) * ti.u32(277803737)
    return (word >> ti.u32(22)) ^ word


@ti.func
def sample_key(seed: ti.u32, pixel: ti.u32, sample: ti.u32) -> ti.u32:
    """Key of one camera sample; combine with a dimension in :func:`rand`."""
    return pcg(pcg(pcg(seed) ^ pixel) + sample)


@ti.func
def rand(key: ti.u32, dim: ti.i32) -> ti.f32:
    """Uniform float in [0, 1) for dimension `dim` of the sample with `key`."""
    h = pcg(key ^ pcg(ti.u32(dim) * ti.u32(0x9E3779B9) + ti.u32(0x7F4A7C15)))
    return ti.f32(h >> ti.u32(8)) * ti.f32(1.0 / 16777216.0)


@ti.func
def rand2(key: ti.u32, dim: ti.i32) -> ti.math.vec2:
    return ti.math.vec2(rand(key, dim), rand(key, dim + 1))


@ti.func
def bounce_dim(depth: ti.i32, offset: ti.i32) -> ti.i32:
    """Dimension index of `offset` at path vertex `depth` (fixed layout makes replay exact)."""
    return DIM_BOUNCE0 + depth * DIMS_PER_BOUNCE + offset
