"""Device math (`@ti.func`) shared by both drivers: warps, frames, Fresnel, microfacets, BSDFs,
emitters, textures, intersection, random numbers, camera rays, the film, the path tracer's
vertices and their derivative terms."""
