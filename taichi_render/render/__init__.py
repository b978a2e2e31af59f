"""Device side of the renderer: scene packing, BVH, and the @ti.func building blocks."""
