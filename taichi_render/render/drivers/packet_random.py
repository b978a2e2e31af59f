"""The counter-based random numbers of rng.py, on every lane of a packet at once."""

import taichi as ti

from ..device import rng
from .packet_trace import VF, VU


@ti.func
def pcg_lanes(v: VU) -> VU:
    """rng.pcg on every lane."""
    state = v * ti.u32(747796405) + ti.u32(2891336453)
    word = ((state >> ((state >> ti.u32(28)) + ti.u32(4))) ^ state) * ti.u32(277803737)
    return (word >> ti.u32(22)) ^ word


@ti.func
def rand_lanes(keys: VU, dim: ti.i32) -> VF:
    """rng.rand on every lane: the same numbers as the per-lane code."""
    h = pcg_lanes(keys ^ rng.pcg(ti.u32(dim) * ti.u32(0x9E3779B9) + ti.u32(0x7F4A7C15)))
    return ti.cast(h >> ti.u32(8), ti.f32) * (1.0 / 16777216.0)
