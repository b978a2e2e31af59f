"""Host side: packing a `Scene` into the typed arrays kernels read (layout.py, view.py), the BVH and
triangle pairs, and the gradient and tangent arrays."""
