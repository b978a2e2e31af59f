"""Optimizer update rules against their formulas, and what a non-finite gradient does.

The optimizers read gradients through `params.grad(key)`; a small stand-in for the parameters
feeds them chosen gradients, so these tests need no rendering."""

import warnings

import numpy as np
import pytest

import taichi_render as tr


class FixedGradients:
    """Stands in for SceneParameters: `grad(key)` returns the arrays in `grads`."""

    def __init__(self, grads: dict):
        self.grads = {key: np.asarray(g, np.float32) for key, g in grads.items()}

    def grad(self, key):
        return self.grads[key]


KEY = "red.reflectance.value"


def linked(opt, value, gradient):
    opt[KEY] = value
    opt.params = FixedGradients({KEY: gradient})
    return opt


def adam_reference(x, grads, lr, b1=0.9, b2=0.999, eps=1e-8, uniform=False):
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v.max()) if uniform else np.sqrt(v)  # uniform: Nicolet et al. 2021
        x = x - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (denom + eps)
    return x


def test_adam_follows_its_formula_over_steps():
    x0 = np.array([0.2, 0.5, 0.9], np.float64)
    grads = [np.array([0.3, -1.0, 2e-3]), np.array([0.1, -0.5, 0.0]), np.array([-0.2, 0.4, 1e-4])]
    opt = linked(tr.ad.Adam(lr=0.05), x0, grads[0])
    for g in grads:
        opt.params.grads[KEY] = g.astype(np.float32)
        opt.step()
    np.testing.assert_allclose(opt[KEY], adam_reference(x0, grads, 0.05), rtol=1e-5, atol=1e-7)
    # the first step of Adam moves every entry with a non-zero gradient by about lr
    first = linked(tr.ad.Adam(lr=0.05), x0, grads[0])
    first.step()
    np.testing.assert_allclose(np.abs(first[KEY] - x0), 0.05, rtol=1e-3)


def test_adam_mask_updates_freezes_entries_without_gradient():
    x0 = np.array([0.2, 0.5, 0.9], np.float32)
    opt = linked(tr.ad.Adam(lr=0.1, mask_updates=True), x0, [1.0, 0.0, -1.0])
    opt.step()
    assert opt[KEY][1] == x0[1]
    assert opt[KEY][0] < x0[0] and opt[KEY][2] > x0[2]
    # without the mask, momentum moves the entry on the next zero-gradient step
    plain = linked(tr.ad.Adam(lr=0.1), x0, [1.0, 1.0, 1.0])
    plain.step()
    plain.params.grads[KEY] = np.zeros(3, np.float32)
    before = plain[KEY].copy()
    plain.step()
    assert np.all(plain[KEY] < before)
    masked = linked(tr.ad.Adam(lr=0.1, mask_updates=True), x0, [1.0, 1.0, 1.0])
    masked.step()
    masked.params.grads[KEY] = np.zeros(3, np.float32)
    before = masked[KEY].copy()
    masked.step()
    np.testing.assert_array_equal(masked[KEY], before)


def test_sgd_momentum_and_per_key_learning_rates():
    x0 = np.array([1.0, -1.0], np.float64)
    grads = [np.array([0.5, 0.25]), np.array([-1.0, 2.0]), np.array([0.0, 1.0])]
    opt = linked(tr.ad.SGD(lr=0.1, momentum=0.8), x0, grads[0])
    opt.set_learning_rate({KEY: 0.3})
    assert opt.learning_rate(KEY) == pytest.approx(0.3) and opt.learning_rate("other.key") == pytest.approx(0.1)
    x, v = x0.copy(), np.zeros(2)
    for g in grads:
        opt.params.grads[KEY] = g.astype(np.float32)
        opt.step()
        v = 0.8 * v + 0.3 * g
        x = x - v
    np.testing.assert_allclose(opt[KEY], x, rtol=1e-5)


@pytest.mark.parametrize("make", [lambda: tr.ad.Adam(lr=0.05), lambda: tr.ad.SGD(lr=0.05, momentum=0.5)])
def test_non_finite_gradient_entries_warn_count_and_count_as_zero(make):
    x0 = np.array([0.2, 0.5, 0.9], np.float32)
    opt = linked(make(), x0, [np.nan, 1.0, np.inf])
    with pytest.warns(tr.ad.NonFiniteGradientWarning, match=r"'red\.reflectance\.value' has 2 non-finite"):
        opt.step()
    assert opt.nonfinite_steps == {KEY: 1}
    assert np.all(np.isfinite(opt[KEY]))
    assert opt[KEY][0] == x0[0] and opt[KEY][2] == x0[2]  # treated as a zero gradient
    assert opt[KEY][1] < x0[1]
    # a clean step adds no count and no warning
    opt.params.grads[KEY] = np.ones(3, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert opt.nonfinite_steps == {KEY: 1}


def test_non_finite_gradient_as_error_changes_nothing():
    opt = tr.ad.Adam(lr=0.05)
    opt["a.value"] = [0.1, 0.2]
    opt["b.value"] = [0.3]
    opt.params = FixedGradients({"a.value": [1.0, 1.0], "b.value": [np.nan]})
    before = {key: opt[key].copy() for key in opt}
    state_before = {key: (opt.state[key][0], opt.state[key][1].copy()) for key in opt}
    with warnings.catch_warnings():
        warnings.simplefilter("error", tr.ad.NonFiniteGradientWarning)
        with pytest.raises(tr.ad.NonFiniteGradientWarning, match="b.value"):
            opt.step()
    for key in opt:  # neither key moved: gradients are all read before any value changes
        np.testing.assert_array_equal(opt[key], before[key])
        assert opt.state[key][0] == state_before[key][0]
        np.testing.assert_array_equal(opt.state[key][1], state_before[key][1])


# ---- uniform Adam (Nicolet et al. 2021; Mitsuba's Adam(uniform=True)) ----


def test_uniform_adam_follows_its_formula_over_steps():
    x0 = np.array([0.2, 0.5, 0.9, -0.3], np.float64)
    grads = [np.array([0.3, -1.0, 2e-3, 0.0]), np.array([0.1, -0.5, 0.0, 0.2]),
             np.array([-0.2, 0.4, 1e-4, 3.0])]
    opt = linked(tr.ad.Adam(lr=0.05, uniform=True), x0, grads[0])
    assert opt.uniform and not tr.ad.Adam(lr=0.05).uniform  # off by default
    for g in grads:
        opt.params.grads[KEY] = g.astype(np.float32)
        opt.step()
    expected = adam_reference(x0, grads, 0.05, uniform=True)
    np.testing.assert_allclose(opt[KEY], expected, rtol=1e-5, atol=1e-7)
    # not the per-entry Adam
    assert np.abs(expected - adam_reference(x0, grads, 0.05)).max() > 1e-2
    assert "uniform=True" in repr(opt)


def test_uniform_adam_moves_every_entry_on_one_scale():
    """First step: m_hat = g and v_hat = g^2, so each entry moves by lr * |g| / max|g|: the
    entry with the largest second moment by lr, every other by less, in proportion to |g|
    (plain Adam moves every entry with a gradient by lr)."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=200)
    g = rng.normal(size=200) * np.exp(rng.normal(size=200) * 2)  # magnitudes over decades
    lr = 0.01
    opt = linked(tr.ad.Adam(lr=lr, uniform=True), x0, g)
    opt.step()
    moved = np.abs(opt[KEY].astype(np.float64) - x0.astype(np.float32))
    assert moved.max() <= lr * (1 + 1e-4)
    top = np.argmax(g * g)
    assert moved[top] == pytest.approx(lr, rel=1e-3)
    big = np.abs(g) > 1e-2 * np.abs(g).max()
    np.testing.assert_allclose(moved[big], lr * np.abs(g[big]) / np.abs(g).max(), rtol=1e-3, atol=1e-7)
    assert np.all(np.sign(opt[KEY] - x0.astype(np.float32))[big] == -np.sign(g[big]))
    plain = linked(tr.ad.Adam(lr=lr), x0, g)
    plain.step()
    np.testing.assert_allclose(np.abs(plain[KEY] - x0.astype(np.float32))[big], lr, rtol=1e-3)
    # over steps the bound holds too: |step| <= lr_t * |m| / sqrt(max v) <= about lr
    for _ in range(20):
        before = opt[KEY].copy()
        opt.params.grads[KEY] = rng.normal(size=200).astype(np.float32)
        opt.step()
        assert np.abs(opt[KEY] - before).max() <= 3 * lr


def test_uniform_adam_with_mask_updates_and_per_key_scale():
    """Each key has its own scale (its own maximum); mask_updates still freezes entries
    without a gradient."""
    opt = tr.ad.Adam(lr=0.1, uniform=True, mask_updates=True)
    opt["a.value"] = [0.0, 0.0, 0.0]
    opt["b.value"] = [0.0, 0.0]
    opt.params = FixedGradients({"a.value": [4.0, 0.0, -1.0], "b.value": [0.02, 0.01]})
    opt.step()
    np.testing.assert_allclose(opt["a.value"], [-0.1, 0.0, 0.025], rtol=1e-4)
    np.testing.assert_allclose(opt["b.value"], [-0.1, -0.05], rtol=1e-4)
