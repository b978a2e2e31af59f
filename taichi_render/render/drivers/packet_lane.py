"""One lane's path vertex inside a packet, with the per-vertex code of the one-ray driver.

`lane_vertex` loads lane l's path state from the packet's state matrix (packet_state.py), runs
`path_tracer.traced_vertex` (the one-ray driver's vertex, shadow ray traced on its own), and
stores the state back. Any material, any emitter, misses included: the packet driver uses it for
vertices the SIMD fast path (packet_diffuse.py) does not cover.
"""

import taichi as ti

from ..device.deferred_terms import keep_lobe
from ..device.derivatives import MODE_PRIMAL
from ..device.intersect import Hit
from ..device.path_tracer import traced_vertex
from . import packet_state as P


@ti.func
def lane_vertex(sc: ti.template(), ad: ti.template(), S: ti.template(), key: ti.u32, l: ti.i32, t: ti.f32,
                prim: ti.i32, b1: ti.f32, b2: ti.f32, depth: ti.i32, max_depth: ti.i32, rr_depth: ti.i32,
                hide_emitters: ti.i32, replay: ti.i32, single_pass: ti.i32, mode: ti.template()):
    """The vertex of lane l, whose ray found (t, prim, b1, b2) (prim -1: a miss); with
    `single_pass` (derivative modes) its lobe terms are kept for the path's end
    (deferred_terms.py)."""
    st = traced_vertex(sc, ad, key, depth, P.load(S, l, mode), Hit(t=t, prim=prim, b1=b1, b2=b2), max_depth, rr_depth,
                       hide_emitters, P.lane3(S, l, P.DELTA), P.lane3(S, l, P.TOTAL), replay, single_pass, mode)
    P.store(S, l, st, mode)
    if ti.static(mode != MODE_PRIMAL):
        if single_pass:
            keep_lobe(S, l, depth, st)
