"""taichi_render: a differentiable path tracer in Taichi."""
