"""Single-pass path replay: the part of each vertex's lobe term that needs the path's total
radiance, kept per vertex until the path ends.

Path replay (path_tracer.py) needs, at every vertex k, the radiance still to come: L - G_k,
with L the path's estimate and G_k what it gathered up to k. Run in two passes, a first pass
computes L and a second replays the path. But the lobe term of vertex k is linear in it:
g_k = (L - G_k) * a_k per channel, a_k = d log f_k / d (texture value). So one pass suffices:
-G_k * a_k is applied at the vertex (the replay code run with L = 0), and a_k is kept (texture
slots, uv of the lookup, a_k: `KEPT_ROWS` rows of the packet's state matrix per vertex) until
L is known at the path's end, where `apply_kept` applies L * a_k.

The packet driver uses one pass when every path has at most `KEPT_SLOTS` scattering vertices
(max_depth <= KEPT_SLOTS + 1) and no vertex-position terms are wanted (their replay terms stay
two-pass); images and gradients are those of two passes up to float rounding
(tests/ad/test_single_pass_replay.py).
"""

import taichi as ti

from .. import layout as L
from ..drivers import packet_state as P
from ..drivers.packet_gradients import add_rgb_gradient
from ..drivers.packet_trace import LANES
from .derivatives import MODE_ADJOINT, apply_texture_derivative, gradient_wanted

vec2 = ti.math.vec2
vec3 = ti.math.vec3


@ti.func
def keep(S: ti.template(), l: ti.i32, depth: ti.i32, tex0: ti.i32, tex1: ti.i32, uv: vec2, a0: vec3, a1: vec3):
    """Keep the lobe terms of lane l's vertex `depth` (a scattering vertex: depth < KEPT_SLOTS):
    texture rows tex0, tex1 (-1: none) looked up at uv, d log f / d tex0 and / d tex1."""
    r = P.KEPT + depth * P.KEPT_ROWS
    S[r, l] = ti.cast(tex0 + 1, ti.f32)
    S[r + 1, l] = ti.cast(tex1 + 1, ti.f32)
    S[r + 2, l] = uv.x
    S[r + 3, l] = uv.y
    for c in ti.static(range(3)):
        S[r + 4 + c, l] = a0[c]
        S[r + 7 + c, l] = a1[c]


@ti.func
def keep_lobe(S: ti.template(), l: ti.i32, depth: ti.i32, st: ti.template()):
    """Keep the lobe terms that path_tracer.path_vertex left in `st` (if its vertex sampled one)."""
    if st.lobe_tex[0] >= 0 or st.lobe_tex[1] >= 0:
        keep(S, l, depth, st.lobe_tex[0], st.lobe_tex[1], st.lobe_uv, st.lobe_a0, st.lobe_a1)


@ti.func
def apply_kept(sc: ti.template(), ad: ti.template(), S: ti.template(), G: ti.template(), vertices: ti.i32,
               mode: ti.template()):
    """At the end of the packet's paths (`vertices`: the most any lane had): L * a_k of every
    kept term, L the lane's estimate (row GATHERED). Adjoint: into the gradients (rgb textures
    into the packet's table G, packet_gradients.py); forward: added to the lane's derivative
    (row DTOTAL)."""
    for l in range(LANES):
        total = P.lane3(S, l, P.GATHERED)
        delta = P.lane3(S, l, P.DELTA)
        d = vec3(0.0)
        for k in range(ti.min(vertices, P.KEPT_SLOTS)):
            r = P.KEPT + k * P.KEPT_ROWS
            for j in ti.static(range(2)):
                tex = ti.cast(S[r + j, l], ti.i32) - 1
                if tex >= 0:
                    g = total * vec3(S[r + 4 + 3 * j, l], S[r + 5 + 3 * j, l], S[r + 6 + 3 * j, l])
                    pending = 1
                    if ti.static(mode == MODE_ADJOINT):
                        if not gradient_wanted(sc, tex):
                            pending = 0
                        elif sc.tex_i[tex, L.TI_TYPE] == L.TEX_RGB:
                            add_rgb_gradient(ad, G, tex, delta * g)
                            pending = 0
                    if pending:
                        d += apply_texture_derivative(sc, ad, tex, vec2(S[r + 2, l], S[r + 3, l]), g, delta, mode)
        if ti.static(mode != MODE_ADJOINT):
            P.set_lane3(S, l, P.DTOTAL, P.lane3(S, l, P.DTOTAL) + d)
