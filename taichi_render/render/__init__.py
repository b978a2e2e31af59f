"""The renderer: entry points (renderer.py) and per-scene and per-sensor state (state.py,
film_buffers.py) at this level, with

- `layout.py`, `view.py`: the packed arrays' columns and kernel argument types, the contract
  between host and device;
- `packing/`: host code that packs a scene into those arrays (and the BVH);
- `device/`: `@ti.func` math shared by both drivers;
- `drivers/`: the path tracer's kernels, one ray per thread and 16-lane ray packets;
- `boundary/`: the visibility (boundary) terms of vertex-position derivatives.
"""
