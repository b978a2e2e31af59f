"""The torch bridge: gradients, conversions, several renders per backward, RenderLayer."""

import numpy as np
import pytest
import taichi as ti
import torch

import taichi_render as tr
import taichi_render.torch as trt

KEY = "red.reflectance.value"
RES = 24


@pytest.fixture()
def scene():
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = RES
    d["integrator"] = {"type": "prb", "max_depth": 3}
    return tr.load_dict(d)


def native_gradient(scene, params, target, seed, seed_grad):
    params.enable_grad([KEY])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=4, seed=seed, seed_grad=seed_grad)
        tr.ad.mse(image, target, out=loss)
    return params.grad(KEY)


def test_bridge_gradient_equals_native(scene):
    params = tr.traverse(scene)
    target = np.full((RES, RES, 3), 0.1, np.float32)
    native = native_gradient(scene, params, target, 3, 7)
    color = torch.tensor(params[KEY], requires_grad=True)
    image = trt.render(scene, params, spp=4, seed=3, seed_grad=7, **{KEY: color})
    assert image.shape == (RES, RES, 3) and image.dtype == torch.float32
    torch.nn.functional.mse_loss(image, torch.from_numpy(target)).backward()
    np.testing.assert_allclose(color.grad.numpy(), native, rtol=1e-5)


@pytest.mark.portable
def test_bridge_gradient_matches_finite_differences(scene):
    params = tr.traverse(scene)
    target = torch.full((RES, RES, 3), 0.1)
    x0 = torch.tensor(params[KEY], dtype=torch.float64)

    def loss_of(x, grad=False):
        x = x.clone().requires_grad_(grad)
        img = trt.render(scene, params, spp=4, seed=5, seed_grad=5, **{KEY: x})
        loss = torch.mean((img.double() - target.double()) ** 2)
        return loss, x

    loss, x = loss_of(x0, True)
    loss.backward()
    assert x.grad.dtype == torch.float64  # gradients come back in the input's dtype
    direction = torch.tensor([1.0, 0.6, 0.3], dtype=torch.float64)
    eps = 1e-2
    fd = (loss_of(x0 + eps * direction)[0] - loss_of(x0 - eps * direction)[0]) / (2 * eps)
    np.testing.assert_allclose(float(x.grad @ direction), float(fd), rtol=2e-3)


def test_several_renders_before_one_backward(scene):
    """Each call keeps its own parameter values for its backward pass."""
    params = tr.traverse(scene)
    target = torch.zeros(RES, RES, 3)
    a = torch.tensor([0.8, 0.1, 0.1], requires_grad=True)
    b = torch.tensor([0.1, 0.1, 0.8], requires_grad=True)
    img_a = trt.render(scene, params, spp=2, seed=1, seed_grad=1, **{KEY: a})
    img_b = trt.render(scene, params, spp=2, seed=1, seed_grad=1, **{KEY: b})
    (torch.mean((img_a - target) ** 2) + torch.mean((img_b - target) ** 2)).backward()
    ga, gb = a.grad.clone(), b.grad.clone()
    for x, g in ((a, ga), (b, gb)):
        y = x.detach().clone().requires_grad_(True)
        torch.mean((trt.render(scene, params, spp=2, seed=1, seed_grad=1, **{KEY: y}) - target) ** 2).backward()
        np.testing.assert_allclose(g.numpy(), y.grad.numpy(), rtol=1e-5)
    assert not np.allclose(ga.numpy(), gb.numpy())


def test_renders_with_other_sample_weights_before_backward():
    """A backward pass normalises with the sample weights of its own render, though later
    renders (another spp, a Gaussian filter) overwrote the film's."""
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=RES, height=RES, rfilter={"type": "gaussian"})
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    target = torch.zeros(RES, RES, 3)

    def gradient(spp, later_spp=None):
        x = torch.tensor([0.5, 0.3, 0.2], requires_grad=True)
        image = trt.render(scene, params, spp=spp, seed=2, seed_grad=3, **{KEY: x})
        if later_spp is not None:
            trt.render(scene, params, spp=later_spp, seed=4, **{KEY: x.detach()})
        torch.mean((image - target) ** 2).backward()
        return x.grad.numpy()

    alone = gradient(3)
    np.testing.assert_allclose(gradient(3, later_spp=7), alone, rtol=1e-5)
    assert not np.allclose(gradient(7), alone, rtol=1e-3)


def test_conversions_and_errors(scene):
    params = tr.traverse(scene)
    with torch.no_grad():
        ref = trt.render(scene, params, spp=2, seed=0, **{KEY: torch.tensor([0.5, 0.2, 0.1])})
    # float64 and non-contiguous inputs are converted
    wide = torch.tensor([[0.5, 9.0], [0.2, 9.0], [0.1, 9.0]], dtype=torch.float64)[:, 0]
    assert not wide.is_contiguous()
    img = trt.render(scene, params, spp=2, seed=0, **{KEY: wide})
    assert torch.equal(img, ref)
    assert not img.requires_grad
    with pytest.raises(KeyError, match="nope"):
        trt.render(scene, params, spp=2, nope=torch.zeros(3))
    with pytest.raises(TypeError, match=KEY):
        trt.render(scene, params, spp=2, **{KEY: [0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match=KEY):
        trt.render(scene, params, spp=2, **{KEY: torch.tensor([0.1, float("nan"), 0.3])})


def test_render_layer_in_a_network(scene):
    layer = trt.RenderLayer(scene, [KEY], spp=2)
    logits = torch.zeros(3, requires_grad=True)
    image = layer(**{KEY: torch.sigmoid(logits)})
    image.mean().backward()
    assert logits.grad is not None and torch.all(torch.isfinite(logits.grad))
    assert logits.grad[0] > 0  # a brighter red wall brightens the image
    assert layer.calls == 1
    with pytest.raises(KeyError):
        layer(**{"green.reflectance.value": torch.zeros(3)})


def test_render_layer_in_sequential(scene):
    """A one-key layer takes its tensor positionally, so it composes with nn.Sequential."""
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(), trt.RenderLayer(scene, KEY, spp=1))
    image = net(torch.tensor([0.3, -0.2]))
    assert image.shape == (RES, RES, 3)
    image.mean().backward()
    assert net[0].weight.grad is not None and torch.isfinite(net[0].weight.grad).all()


def test_mse_rejects_the_image_as_its_own_reference(scene):
    image = tr.render(scene, spp=1)
    with pytest.raises(ValueError, match="to_numpy"):
        tr.ad.mse(image, image)
