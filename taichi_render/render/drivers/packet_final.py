"""The ray of a path's last vertex, traced towards the emitters only.

At the last vertex (depth max_depth - 1) a path only gathers the emission its ray finds: it
does not scatter. When a ray can find emission on a few primitives only (no environment
emitter; the scene lists its emitter primitives, layout.SC_EMITTER_PRIMS), the packet tests
those primitives, then traces a shadow ray (any hit) up to the nearest emitter hit of each
lane that found one. Lanes blocked on the way, or that found no emitter, end as misses: what a
closest-hit trace would give them adds nothing at that vertex. A full BVH traversal becomes a
loop over a few primitives, and a shadow ray for the rare lanes that see an emitter.
"""

import taichi as ti

from .. import layout as L
from ..device.intersect import SHADOW_EPSILON
from .packet_trace import VF, VI, any_lane, closer_hit, trace_packet


@ti.func
def emitters_only(sc: ti.template(), depth: ti.i32, max_depth: ti.i32) -> ti.i32:
    """Whether the rays of vertex `depth` can be traced with `trace_to_emitters`."""
    return max_depth > 0 and depth == max_depth - 1 and sc.scene_i[L.SC_EMITTER_PRIMS] >= 0


@ti.func
def trace_to_emitters(sc: ti.template(), ox: VF, oy: VF, oz: VF, dx: VF, dy: VF, dz: VF, tmax: VF):
    """trace_packet's (t, prim, b1, b2) where the closest hit is an emitter primitive, a miss
    (prim -1, t = tmax) elsewhere. Lanes with tmax < 0 are inactive."""
    best = tmax
    prim = VI(-1)
    hb1 = VF(0.0)
    hb2 = VF(0.0)
    for i in range(sc.scene_i[L.SC_EMITTER_PRIMS]):
        k = sc.scene_i[L.SC_WIDTH + i]
        best, prim, hb1, hb2 = closer_hit(sc, k, ox, oy, oz, dx, dy, dz, best, prim, hb1, hb2)
    found = prim >= 0
    if any_lane(found):
        _, blocker, _, _ = trace_packet(sc, ox, oy, oz, dx, dy, dz,
                                        ti.select(found, best * (1.0 - SHADOW_EPSILON), -1.0), True)
        blocked = blocker >= 0
        prim = ti.select(blocked, -1, prim)
        best = ti.select(blocked, tmax, best)
    return best, prim, hb1, hb2
