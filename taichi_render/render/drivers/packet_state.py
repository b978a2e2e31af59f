"""Per-thread storage of a packet's paths: a (N_COLUMNS, LANES) f32 matrix, one column per lane.

A row holds one quantity for every lane, so the SIMD code of a packet reads and writes whole
rows (`row`, `set_row`), while per-lane code loads and stores a lane's `PathState` (`load`,
`store`).
"""

import taichi as ti

from ..device.path_tracer import PathState
from .packet_trace import LANES, row

vec3 = ti.math.vec3

# rows (vec3 quantities take three)
O, D, TMAX, TP, GATHERED, ETA, PREV_P, PREV_PDF, PREV_DELTA, ALIVE, DTOTAL = 0, 3, 6, 7, 10, 13, 14, 17, 18, 19, 20
TOTAL = 23  # adjoint and forward modes: the primal estimate of the first pass
DELTA = 26  # adjoint mode: dLoss/d(sample value)
POS = 29  # film position (2)
N_ROWS = 31
# derivative modes, single-pass replay: the kept lobe terms of each scattering vertex
# (deferred_terms.py), KEPT_ROWS rows per vertex from row KEPT
KEPT = N_ROWS
KEPT_SLOTS = 7  # scattering vertices a path may have: max_depth <= KEPT_SLOTS + 1
KEPT_ROWS = 10  # texture + 1 of slot 0 and slot 1 (0: none), uv (2), d log f / d slot 0, slot 1 (3 + 3)
# derivative modes: PathState's prev_n (3), prev_flip, prev_tri + 1 (0: none; exact in f32 below
# 2^24 triangles, as the kept rows' texture indices), prev_b (2), prev_ray (3)
PREV_N = KEPT + KEPT_SLOTS * KEPT_ROWS
PREV_FLIP = PREV_N + 3
PREV_TRI = PREV_FLIP + 1
PREV_B = PREV_TRI + 1
PREV_RAY = PREV_B + 2
DERIVATIVE_ROWS = PREV_RAY + 3


def new_state(mode: int = 0):
    """The state matrix of a packet: N_ROWS rows, and in derivative modes the kept-term rows and
    the previous vertex's (mode: derivatives.MODE_*, 0 is primal)."""
    return ti.Matrix.zero(ti.f32, N_ROWS if mode == 0 else DERIVATIVE_ROWS, LANES)


# called in kernels at compile time (a Python function that builds a zero matrix): exempt
# from Taichi's "non-taichi function" warning, as view.SceneView is
new_state._is_taichi_function = False


@ti.func
def set_row(S: ti.template(), r: ti.template(), v: ti.template()):
    """Set row r of S to the lane vector v (one slice assignment: a loop of LANES element
    assignments made the kernel's compilation several times slower)."""
    S[r, :] = v


@ti.func
def row3(S: ti.template(), r: ti.template()):
    """Rows r, r + 1, r + 2: a vec3 quantity of every lane, as (x, y, z) lane vectors."""
    return row(S, r), row(S, r + 1), row(S, r + 2)


@ti.func
def set_row3(S: ti.template(), r: ti.template(), x: ti.template(), y: ti.template(), z: ti.template()):
    set_row(S, r, x)
    set_row(S, r + 1, y)
    set_row(S, r + 2, z)


@ti.func
def lane3(S: ti.template(), l: ti.i32, r: ti.template()) -> vec3:
    return vec3(S[r, l], S[r + 1, l], S[r + 2, l])


@ti.func
def set_lane3(S: ti.template(), l: ti.i32, r: ti.template(), v: vec3):
    S[r, l], S[r + 1, l], S[r + 2, l] = v.x, v.y, v.z


@ti.func
def load(S: ti.template(), l: ti.i32, mode: ti.template()) -> PathState:
    st = PathState(o=lane3(S, l, O), d=lane3(S, l, D), tmax=S[TMAX, l], throughput=lane3(S, l, TP),
                   gathered=lane3(S, l, GATHERED), eta=S[ETA, l], prev_p=lane3(S, l, PREV_P),
                   prev_pdf=S[PREV_PDF, l], prev_delta=ti.cast(S[PREV_DELTA, l], ti.i32),
                   prev_n=vec3(0.0), prev_flip=1.0, prev_tri=-1, prev_b=ti.math.vec2(0.0), prev_ray=vec3(0.0),
                   alive=ti.cast(S[ALIVE, l], ti.i32), d_total=lane3(S, l, DTOTAL),
                   lobe_tex=ti.Vector([-1, -1]), lobe_uv=ti.math.vec2(0.0), lobe_a0=vec3(0.0),
                   lobe_a1=vec3(0.0))
    if ti.static(mode != 0):
        st.prev_n = lane3(S, l, PREV_N)
        st.prev_flip = S[PREV_FLIP, l]
        st.prev_tri = ti.cast(S[PREV_TRI, l], ti.i32) - 1
        st.prev_b = ti.math.vec2(S[PREV_B, l], S[PREV_B + 1, l])
        st.prev_ray = lane3(S, l, PREV_RAY)
    return st


@ti.func
def store(S: ti.template(), l: ti.i32, st: ti.template(), mode: ti.template()):
    set_lane3(S, l, O, st.o)
    set_lane3(S, l, D, st.d)
    S[TMAX, l] = st.tmax
    set_lane3(S, l, TP, st.throughput)
    set_lane3(S, l, GATHERED, st.gathered)
    S[ETA, l] = st.eta
    set_lane3(S, l, PREV_P, st.prev_p)
    S[PREV_PDF, l] = st.prev_pdf
    S[PREV_DELTA, l] = ti.cast(st.prev_delta, ti.f32)
    S[ALIVE, l] = ti.cast(st.alive, ti.f32)
    set_lane3(S, l, DTOTAL, st.d_total)
    if ti.static(mode != 0):
        set_lane3(S, l, PREV_N, st.prev_n)
        S[PREV_FLIP, l] = st.prev_flip
        S[PREV_TRI, l] = ti.cast(st.prev_tri + 1, ti.f32)
        S[PREV_B, l], S[PREV_B + 1, l] = st.prev_b.x, st.prev_b.y
        set_lane3(S, l, PREV_RAY, st.prev_ray)
