"""PyTorch interop: render with tensors as scene parameters and back-propagate into them.

``import taichi_render.torch as trt``::

    params = tr.traverse(scene)
    color = params.torch()["red.reflectance.value"]          # leaf tensor, requires_grad
    image = trt.render(scene, params, spp=1, seed=it, **{"red.reflectance.value": color})
    torch.nn.functional.mse_loss(image, ref).backward()       # color.grad via path replay
"""

from . import distributed
from .function import render
from .module import RenderLayer

__all__ = ["RenderLayer", "distributed", "render"]
