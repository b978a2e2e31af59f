"""Sample warps (unit square -> domains) and their densities, as in Mitsuba's `warp` module."""

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
def square_to_uniform_disk_concentric(s: vec2) -> vec2:
    """Shirley-Chiu concentric map: phi = pi/4 (y/x), or pi/2 - pi/4 (x/y), with sin and cos of
    the quarter angle (quarter_sincos)."""
    x = 2.0 * s.x - 1.0
    y = 2.0 * s.y - 1.0
    r = 0.0
    cos_phi = 1.0
    sin_phi = 0.0
    if x == 0.0 and y == 0.0:
        r = 0.0
    elif x * x > y * y:
        r = x
        sin_phi, cos_phi = quarter_sincos((PI / 4.0) * (y / x))
    else:
        r = y
        cos_phi, sin_phi = quarter_sincos((PI / 4.0) * (x / y))  # phi = pi/2 - a
    return vec2(r * cos_phi, r * sin_phi)


@ti.func
def square_to_cosine_hemisphere(s: vec2) -> vec3:
    p = square_to_uniform_disk_concentric(s)
    z = ti.sqrt(ti.max(0.0, 1.0 - p.dot(p)))
    return vec3(p.x, p.y, z)


@ti.func
def square_to_cosine_hemisphere_pdf(v: vec3) -> ti.f32:
    return INV_PI * ti.max(v.z, 0.0)


@ti.func
def square_to_uniform_sphere(s: vec2) -> vec3:
    z = 1.0 - 2.0 * s.y
    r = ti.sqrt(ti.max(0.0, 1.0 - z * z))
    phi = 2.0 * PI * s.x
    return vec3(r * ti.cos(phi), r * ti.sin(phi), z)


@ti.func
def square_to_uniform_triangle(s: vec2) -> vec2:
    """Barycentrics (b1, b2) uniformly distributed on a triangle."""
    t = ti.sqrt(1.0 - s.x)
    return vec2(1.0 - t, t * s.y)


@ti.func
def power_heuristic(pdf_a: ti.f32, pdf_b: ti.f32) -> ti.f32:
    """MIS weight of strategy a (Veach's power heuristic, beta = 2); 0 when both pdfs are 0."""
    a2 = pdf_a * pdf_a
    b2 = pdf_b * pdf_b
    w = 0.0
    if a2 + b2 > 0.0:
        w = a2 / (a2 + b2)
    return w
