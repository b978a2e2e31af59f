"""One lane's path vertex inside a packet, with the per-vertex code of the one-ray driver.

`lane_vertex` loads lane l's path state from the packet's state matrix (packet_state.py), runs
`path_tracer`'s `vertex_setup`, `shadow_ray` (traced on its own) and `path_vertex`, and stores
the state back. Any material, any emitter, misses included: the packet driver uses it for
vertices the SIMD fast path (packet_diffuse.py) does not cover.
"""

import taichi as ti

from . import packet_state as P
from .intersect import Hit, occluded
from .path_tracer import path_vertex, shadow_ray, vertex_setup


@ti.func
def lane_vertex(sc: ti.template(), ad: ti.template(), S: ti.template(), key: ti.u32, l: ti.i32, t: ti.f32,
                prim: ti.i32, b1: ti.f32, b2: ti.f32, depth: ti.i32, max_depth: ti.i32, rr_depth: ti.i32,
                hide_emitters: ti.i32, replay: ti.i32, mode: ti.template()):
    """The vertex of lane l, whose ray found (t, prim, b1, b2) (prim -1: a miss)."""
    st = P.load(S, l)
    hit = Hit(t=t, prim=prim, b1=b1, b2=b2)
    si, scatters, b, flip, es = vertex_setup(sc, key, depth, st, hit, max_depth)
    needed, so, sd, smax = shadow_ray(sc, si, scatters, b, flip, es)
    visible = 0
    if needed:
        visible = 1 - occluded(sc, so, sd, smax)
    st = path_vertex(sc, ad, key, depth, st, si, scatters, b, flip, es, visible, max_depth, rr_depth,
                     hide_emitters, P.lane3(S, l, P.DELTA), P.lane3(S, l, P.TOTAL), replay, mode)
    P.store(S, l, st)
