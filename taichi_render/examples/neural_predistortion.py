"""Neural texture pre-distortion (Mitsuba's "PyTorch and Mitsuba interoperability" tutorial).

A glass sphere in front of a textured plane distorts the texture. A fully connected layer
(res*res -> res*res, sigmoid), applied to each colour channel of each of four textures, learns
a pre-distortion such that the render of the pre-distorted texture, seen through the sphere,
matches the original texture. Gradients flow from a torch loss through the renderer (path
replay) into the texture tensor, then through the network.
"""

from __future__ import annotations

import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEXTURE_KEY = "textured_plane.bsdf.brdf_0.reflectance.data"


def load_textures(res: int) -> list[np.ndarray]:
    """The four 64x64 tutorial textures (scenes/textures/image_00{1..4}.png), box-filtered to
    res x res, linear float32 (res, res, 3); res must divide 64."""
    import taichi_render as tr

    if 64 % res:
        raise ValueError(f"res must divide 64, got {res}")
    f = 64 // res
    out = []
    for i in range(1, 5):
        img = tr.read_bitmap(ROOT / "scenes" / "textures" / f"image_{i:03d}.png")[..., :3]
        out.append(img.reshape(res, f, res, f, 3).mean(axis=(1, 3)).astype(np.float32))
    return out


class PreDistortion:
    """The per-channel fully connected layer: (res, res, 3) texture -> (res, res, 3)."""

    def __init__(self, res: int, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        self.res = res
        self.net = torch.nn.Sequential(torch.nn.Linear(res * res, res * res), torch.nn.Sigmoid())

    def __call__(self, texture):
        x = texture.permute(2, 0, 1).reshape(3, self.res * self.res)  # a row per channel
        y = self.net(x)
        return y.reshape(3, self.res, self.res).permute(1, 2, 0).contiguous()

    def parameters(self):
        return self.net.parameters()


def train_predistortion(res: int = 32, iterations: int = 20, spp: int = 4, lr: float = 1e-3,
                        callback=None, progress: bool = False) -> dict:
    """Train the pre-distortion layer; returns losses per iteration and before/after renders.

    Each iteration renders the four pre-distorted textures (four renders, one backward)."""
    import torch
    from tqdm import tqdm

    import taichi_render as tr
    import taichi_render.torch as trt

    scene = tr.load_file(ROOT / "scenes" / "glass_sphere.xml", res=res, spp=spp)
    params = tr.traverse(scene)
    textures = [torch.from_numpy(t) for t in load_textures(res)]
    model = PreDistortion(res)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def render_all(distort: bool, seed: int):
        images = []
        for t in textures:
            tex = model(t) if distort else t
            images.append(trt.render(scene, params, spp=spp, seed=seed, **{TEXTURE_KEY: tex}))
        return images

    with torch.no_grad():
        before = [img.numpy().copy() for img in render_all(False, 1000)]
    losses = []
    for it in tqdm(range(iterations), desc="pre-distortion", disable=not progress):
        opt.zero_grad()
        images = render_all(True, it)
        loss = sum(torch.nn.functional.mse_loss(img, t) for img, t in zip(images, textures))
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if callback is not None and callback(it, images[0], losses[-1]) is False:
            break
    with torch.no_grad():
        after = [img.numpy().copy() for img in render_all(True, 1000)]
        distorted = [model(t).numpy().copy() for t in textures]
    return {"losses": losses, "before": before, "after": after, "distorted": distorted,
            "textures": [t.numpy() for t in textures]}
