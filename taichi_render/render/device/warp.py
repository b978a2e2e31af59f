"""Sample warps (unit square -> domains) and their densities, as in Mitsuba's `warp` module.

The warps the path tracer's vertices use (concentric disk, cosine hemisphere, uniform triangle)
and the MIS weight are written once, on components, for scalars and lane vectors alike
(`ti.select` instead of branches): the one-ray driver calls them with f32 values, the packet
driver with `packet_trace.VF` lane vectors. Their vec2/vec3 forms below wrap them."""

import taichi as ti

PI = 3.141592653589793
INV_PI = 0.3183098861837907
INV_FOUR_PI = 0.07957747154594767

vec2 = ti.math.vec2
vec3 = ti.math.vec3


@ti.func
def quarter_sincos(a: ti.template()):
    """(sin a, cos a) for |a| <= pi / 4, scalars or lane vectors: the minimax polynomials of
    Cephes' sinf/cosf (about 1 ulp in float32). Inline arithmetic instead of two libm calls per
    lane, which took about 8 % of a Cornell box render."""
    a2 = a * a
    sin_a = a + a * a2 * (-1.6666654611e-1 + a2 * (8.3321608736e-3 + a2 * -1.9515295891e-4))
    cos_a = 1.0 - 0.5 * a2 + a2 * a2 * (4.166664568298827e-2 + a2 * (-1.388731625493765e-3
                                                                       + a2 * 2.443315711809948e-5))
    return sin_a, cos_a


@ti.func
def select_max(a: ti.template(), b: ti.template()):
    """max(a, b) of scalars or lane vectors as one compare and select (b where a is NaN); see
    packet_trace.lane_min for why not `ti.max`."""
    return ti.select(a > b, a, b)


@ti.func
def concentric_disk(x: ti.template(), y: ti.template()):
    """Shirley-Chiu concentric map of (x, y) in [-1, 1]^2 to the unit disk, scalars or lane
    vectors: phi = pi/4 (y/x), or pi/2 - pi/4 (x/y), with sin and cos of the quarter angle
    (quarter_sincos). Returns the disk point's (x, y)."""
    wider = x * x > y * y
    r = ti.select(wider, x, y)
    quarter = (PI / 4.0) * ti.select(wider, y / ti.select(x != 0.0, x, 1.0), x / ti.select(y != 0.0, y, 1.0))
    sin_q, cos_q = quarter_sincos(quarter)
    r = ti.select((x == 0.0) & (y == 0.0), 0.0, r)
    return r * ti.select(wider, cos_q, sin_q), r * ti.select(wider, sin_q, cos_q)


@ti.func
def cosine_hemisphere(u: ti.template(), v: ti.template()):
    """Cosine-weighted direction about +z from (u, v) in [0, 1)^2, scalars or lane vectors:
    the concentric disk lifted to the hemisphere. Returns (x, y, z)."""
    x, y = concentric_disk(2.0 * u - 1.0, 2.0 * v - 1.0)
    return x, y, ti.sqrt(select_max(1.0 - x * x - y * y, 0.0))


@ti.func
def cosine_hemisphere_pdf(z: ti.template()):
    """Solid-angle density of `cosine_hemisphere` at a direction whose z is `z`."""
    return INV_PI * select_max(z, 0.0)


@ti.func
def uniform_triangle(u: ti.template(), v: ti.template()):
    """Barycentrics (b1, b2) uniformly distributed on a triangle, scalars or lane vectors."""
    t = ti.sqrt(1.0 - u)
    return 1.0 - t, t * v


@ti.func
def square_to_uniform_disk_concentric(s: vec2) -> vec2:
    x, y = concentric_disk(2.0 * s.x - 1.0, 2.0 * s.y - 1.0)
    return vec2(x, y)


@ti.func
def square_to_cosine_hemisphere(s: vec2) -> vec3:
    x, y, z = cosine_hemisphere(s.x, s.y)
    return vec3(x, y, z)


@ti.func
def square_to_cosine_hemisphere_pdf(v: vec3) -> ti.f32:
    return cosine_hemisphere_pdf(v.z)


@ti.func
def square_to_uniform_sphere(s: vec2) -> vec3:
    z = 1.0 - 2.0 * s.y
    r = ti.sqrt(ti.max(0.0, 1.0 - z * z))
    phi = 2.0 * PI * s.x
    return vec3(r * ti.cos(phi), r * ti.sin(phi), z)


@ti.func
def square_to_uniform_triangle(s: vec2) -> vec2:
    b1, b2 = uniform_triangle(s.x, s.y)
    return vec2(b1, b2)


@ti.func
def power_heuristic(pdf_a: ti.template(), pdf_b: ti.template()):
    """MIS weight of strategy a (Veach's power heuristic, beta = 2), scalars or lane vectors; 0
    when both pdfs are 0."""
    a2 = pdf_a * pdf_a
    s = a2 + pdf_b * pdf_b
    return ti.select(s > 0.0, a2 / ti.select(s > 0.0, s, 1.0), 0.0)


@ti.func
def roulette_probability(tp_max: ti.template(), eta: ti.template()):
    """Probability that Russian roulette continues a path whose throughput's largest channel is
    `tp_max` and whose relative index of refraction is `eta` (Mitsuba's: tp_max * eta^2, at most
    0.95), scalars or lane vectors."""
    q = tp_max * eta * eta
    return ti.select(q < 0.95, q, 0.95)
