"""Optimization loops driven by torch: the red-wall inversion and the neural pre-distortion."""

import numpy as np
import torch

import taichi_render as tr
import taichi_render.torch as trt
from taichi_render.examples.neural_predistortion import train_predistortion

KEY = "red.reflectance.value"


def test_torch_adam_inverts_the_red_wall():
    d = tr.cornell_box()
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    truth = params[KEY].copy()
    ref = torch.from_numpy(tr.render(scene, spp=64, seed=12345).to_numpy())
    color = torch.tensor([0.01, 0.2, 0.9], requires_grad=True)
    opt = torch.optim.Adam([color], lr=0.05)
    mse = torch.nn.MSELoss()
    for it in range(100):
        opt.zero_grad()
        image = trt.render(scene, params, spp=1, seed=it, **{KEY: color})
        mse(image, ref).backward()
        opt.step()
        with torch.no_grad():
            color.clamp_(0.0, 1.0)
    err = float(np.sum((color.detach().numpy() - truth) ** 2))
    assert err < 1e-3, err


def test_neural_predistortion_lowers_the_loss():
    result = train_predistortion(res=32, iterations=12, spp=2, lr=1e-3)
    losses = result["losses"]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], losses
    assert result["after"][0].shape == (32, 32, 3)
