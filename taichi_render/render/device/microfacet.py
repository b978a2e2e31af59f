"""Microfacet distributions (Beckmann, GGX) with Smith shadowing, as Mitsuba's `MicrofacetDistribution`.

GGX samples the distribution of visible normals (Heitz 2018); Beckmann samples D(m) cos(theta_m).
`pdf_m` returns the matching density of the sampled normal.
"""

import taichi as ti

vec2 = ti.math.vec2
vec3 = ti.math.vec3
PI = 3.141592653589793


@ti.func
def ndf(m: vec3, au: ti.f32, av: ti.f32, ggx: ti.i32) -> ti.f32:
    d = 0.0
    if m.z > 0.0:
        x = m.x / au
        y = m.y / av
        z2 = m.z * m.z
        if ggx:
            t = x * x + y * y + z2
            d = 1.0 / (PI * au * av * t * t)
        else:
            d = ti.exp(-(x * x + y * y) / z2) / (PI * au * av * z2 * z2)
    return d


@ti.func
def smith_g1(v: vec3, m: vec3, au: ti.f32, av: ti.f32, ggx: ti.i32) -> ti.f32:
    g = 0.0
    if v.dot(m) * v.z > 0.0:
        xy_alpha2 = (au * v.x) ** 2 + (av * v.y) ** 2
        tan2 = xy_alpha2 / (v.z * v.z)
        if tan2 <= 0.0:
            g = 1.0
        elif ggx:
            g = 2.0 / (1.0 + ti.sqrt(1.0 + tan2))
        else:
            a = 1.0 / ti.sqrt(tan2)
            if a >= 1.6:
                g = 1.0
            else:
                a2 = a * a
                g = (3.535 * a + 2.181 * a2) / (1.0 + 2.276 * a + 2.577 * a2)
    return g


@ti.func
def sample_normal(wi: vec3, s: vec2, au: ti.f32, av: ti.f32, ggx: ti.i32) -> vec3:
    m = vec3(0.0, 0.0, 1.0)
    if ggx:
        vh = vec3(au * wi.x, av * wi.y, wi.z).normalized()
        lensq = vh.x * vh.x + vh.y * vh.y
        t1 = vec3(1.0, 0.0, 0.0)
        if lensq > 0.0:
            t1 = vec3(-vh.y, vh.x, 0.0) / ti.sqrt(lensq)
        t2 = vh.cross(t1)
        r = ti.sqrt(s.x)
        phi = 2.0 * PI * s.y
        p1 = r * ti.cos(phi)
        p2 = r * ti.sin(phi)
        w = 0.5 * (1.0 + vh.z)
        p2 = (1.0 - w) * ti.sqrt(ti.max(0.0, 1.0 - p1 * p1)) + w * p2
        nh = p1 * t1 + p2 * t2 + ti.sqrt(ti.max(0.0, 1.0 - p1 * p1 - p2 * p2)) * vh
        m = vec3(au * nh.x, av * nh.y, ti.max(1e-6, nh.z)).normalized()
    else:
        phi = ti.atan2(av * ti.sin(2.0 * PI * s.y), au * ti.cos(2.0 * PI * s.y))
        cp = ti.cos(phi)
        sp = ti.sin(phi)
        alpha2 = 1.0 / (cp * cp / (au * au) + sp * sp / (av * av))
        tan2 = -alpha2 * ti.log(ti.max(1.0 - s.x, 1e-12))
        cos_t = 1.0 / ti.sqrt(1.0 + tan2)
        sin_t = ti.sqrt(ti.max(0.0, 1.0 - cos_t * cos_t))
        m = vec3(sin_t * cp, sin_t * sp, cos_t)
    return m


@ti.func
def pdf_normal(wi: vec3, m: vec3, au: ti.f32, av: ti.f32, ggx: ti.i32) -> ti.f32:
    """Density of `sample_normal` (visible normals for GGX, D cos for Beckmann)."""
    p = 0.0
    if ggx:
        if wi.z > 0.0:
            p = ndf(m, au, av, ggx) * smith_g1(wi, m, au, av, ggx) * ti.abs(wi.dot(m)) / wi.z
    else:
        p = ndf(m, au, av, ggx) * m.z
    return p
