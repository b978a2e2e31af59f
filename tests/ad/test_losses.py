"""tr.ad.mse / tr.ad.l1: values and gradients against numpy for every kind of reference
(numpy float32, float64 and strided, CPU torch tensors, fields), and the errors for bad ones."""

import numpy as np
import pytest
import taichi as ti
import torch

import taichi_render as tr

H, W = 6, 5


def _image(values):
    image = ti.Vector.field(3, ti.f32, shape=(H, W), needs_grad=True)
    image.from_numpy(values)
    return image


def _field(values):
    field = ti.Vector.field(3, ti.f32, shape=(H, W))
    field.from_numpy(values)
    return field


REFERENCES = {
    "numpy float32": lambda r: r.astype(np.float32),
    "numpy float64": lambda r: r.astype(np.float64),
    "numpy strided": lambda r: np.ascontiguousarray(np.swapaxes(r, 0, 1)).swapaxes(0, 1),
    "torch float32": lambda r: torch.from_numpy(r.astype(np.float32)),
    "torch float64 needing grad": lambda r: torch.from_numpy(r.astype(np.float64)).requires_grad_(True),
    "field": _field,
}


@pytest.mark.parametrize("kind", REFERENCES)
@pytest.mark.parametrize("loss_name", ["mse", "l1"])
def test_loss_value_and_gradient_match_numpy(kind, loss_name):
    rng = np.random.default_rng(3)
    x = rng.random((H, W, 3)).astype(np.float32)
    r = rng.random((H, W, 3)).astype(np.float32)
    image = _image(x)
    reference = REFERENCES[kind](r)
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        getattr(tr.ad, loss_name)(image, reference, out=loss)
    d = x.astype(np.float64) - r
    if loss_name == "mse":
        value, grad = np.mean(d * d), 2.0 * d / d.size
    else:
        value, grad = np.mean(np.abs(d)), np.sign(d) / d.size
    assert loss[None] == pytest.approx(value, rel=1e-5)
    np.testing.assert_allclose(image.grad.to_numpy(), grad, rtol=1e-4, atol=1e-9)


def test_loss_adds_into_out_and_default_field_is_shared():
    x = np.full((H, W, 3), 0.5, np.float32)
    image = _image(x)
    loss = tr.ad.loss_field()
    tr.ad.mse(image, np.zeros_like(x), out=loss)
    tr.ad.mse(image, np.zeros_like(x), out=loss)
    assert loss[None] == pytest.approx(0.5, rel=1e-6)  # 2 x 0.25
    assert tr.ad.mse(image, x) is tr.ad.l1(image, x)


@pytest.mark.parametrize(
    "reference, message",
    [
        (np.zeros((H, W + 1, 3), np.float32), r"shape \(6, 6, 3\), expected \(6, 5, 3\)"),
        (np.zeros((H, W), np.float32), "expected"),
        (np.full((H, W, 3), np.nan, np.float32), "NaN or inf"),
        (torch.full((H, W, 3), float("inf")), "NaN or inf"),
    ],
)
def test_bad_references_raise_and_leave_the_loss_alone(reference, message):
    image = _image(np.zeros((H, W, 3), np.float32))
    loss = tr.ad.loss_field()
    loss[None] = 7.0
    with pytest.raises(ValueError, match=message):
        tr.ad.mse(image, reference, out=loss)
    assert loss[None] == 7.0


def test_reference_field_of_another_shape_and_the_image_itself_are_refused():
    image = _image(np.zeros((H, W, 3), np.float32))
    with pytest.raises(ValueError, match="differs"):
        tr.ad.mse(image, ti.Vector.field(3, ti.f32, shape=(H + 1, W)))
    with pytest.raises(ValueError, match="image field itself"):
        tr.ad.l1(image, image)
