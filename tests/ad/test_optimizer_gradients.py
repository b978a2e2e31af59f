"""`opt.step(gradients)`: gradients computed elsewhere (torch, numpy) for variables that are not
scene parameters, such as the differential form of `tr.ad.LargeSteps`."""

import numpy as np
import pytest

import taichi_render as tr


def test_step_with_given_gradients_equals_sgd_by_hand():
    opt = tr.ad.SGD(lr=0.5)
    opt["u"] = np.array([1.0, 2.0, 3.0], np.float32)
    opt.step({"u": [0.2, -0.4, 0.0]})
    np.testing.assert_allclose(opt["u"], [0.9, 2.2, 3.0], rtol=1e-6)


def test_step_takes_torch_gradients_and_needs_no_parameters():
    torch = pytest.importorskip("torch")
    opt = tr.ad.Adam(lr=0.1)
    opt["u"] = np.zeros(4, np.float32)
    u = torch.tensor(opt["u"], requires_grad=True)
    ((u - 1.0) ** 2).sum().backward()
    opt.step({"u": u.grad})
    np.testing.assert_allclose(opt["u"], np.full(4, 0.1), rtol=1e-4)  # Adam's first step is lr


def test_step_rejects_unknown_keys_and_wrong_sizes_and_changes_nothing():
    opt = tr.ad.SGD(lr=1.0)
    opt["u"] = np.ones(3, np.float32)
    with pytest.raises(KeyError, match="'v'"):
        opt.step({"v": np.ones(3)})
    with pytest.raises(ValueError, match="2 values"):
        opt.step({"u": np.ones(2)})
    np.testing.assert_array_equal(opt["u"], np.ones(3))


def test_non_finite_given_gradients_are_zeroed_with_a_warning():
    opt = tr.ad.SGD(lr=1.0)
    opt["u"] = np.ones(2, np.float32)
    with pytest.warns(tr.ad.NonFiniteGradientWarning, match="'u'"):
        opt.step({"u": [np.nan, 1.0]})
    np.testing.assert_array_equal(opt["u"], [1.0, 0.0])
    assert opt.nonfinite_steps["u"] == 1
