"""Optimizers (Mitsuba 3's `mi.ad.Adam` and `mi.ad.SGD`): mutable mappings keyed like
`traverse` parameters, holding float32 numpy values and their optimizer state.

The loop of the API page::

    opt = tr.ad.Adam(lr=0.05)
    opt["red.reflectance.value"] = params["red.reflectance.value"]
    params.update(opt)                  # copies values in, enables their gradients, links opt
    with ti.ad.Tape(loss=loss):
        ...
    opt.step()                          # reads params.grad(key) for each key it holds
    params.update(opt)
"""

from __future__ import annotations

import warnings
from collections.abc import MutableMapping

import numpy as np


class NonFiniteGradientWarning(RuntimeWarning):
    """A gradient held NaN or inf entries; the optimizer treated them as 0 for that step."""


def _as_array(key, value) -> np.ndarray:
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"optimizer value for '{key}' must be numeric: {exc}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"optimizer value for '{key}' contains NaN or inf")
    return arr


class Optimizer(MutableMapping):
    """Base class: values, per-key learning rates, the link to the parameters it optimizes."""

    def __init__(self, lr: float, params=None):
        self.set_learning_rate(lr)
        self.variables: dict[str, np.ndarray] = {}
        self.state: dict[str, object] = {}
        self.params = params  # set by params.update(opt) (SceneParameters)
        self.nonfinite_steps: dict[str, int] = {}  # key -> steps whose gradient held NaN or inf

    # ---- mapping protocol ----
    def __getitem__(self, key: str) -> np.ndarray:
        return self.variables[key]

    def __setitem__(self, key: str, value) -> None:
        arr = _as_array(key, value)
        old = self.variables.get(key)
        self.variables[key] = arr
        if old is None or old.shape != arr.shape:  # momentum survives clipping (as in Mitsuba)
            self.reset(key)

    def __delitem__(self, key: str) -> None:
        del self.variables[key]
        self.state.pop(key, None)

    def __iter__(self):
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)

    # ---- learning rates ----
    def set_learning_rate(self, lr) -> None:
        """A float for every key, or {key: lr} for some keys."""
        if isinstance(lr, dict):
            for value in lr.values():
                self._check_lr(value)
            self.lr_per_key = {**getattr(self, "lr_per_key", {}), **lr}
        else:
            self._check_lr(lr)
            self.lr = float(lr)
            self.lr_per_key = getattr(self, "lr_per_key", {})

    @staticmethod
    def _check_lr(lr) -> None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not lr > 0:
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")

    def learning_rate(self, key: str) -> float:
        return float(self.lr_per_key.get(key, self.lr))

    # ---- stepping ----
    def gradient(self, key: str) -> np.ndarray:
        """d(loss)/d(key) from the last tape, shaped like the value (float32).

        Non-finite entries (a NaN sample, an overflow) are set to 0 so that one bad step cannot
        poison the values and the moments; each such step counts in `nonfinite_steps[key]` and
        raises a `NonFiniteGradientWarning` naming the key. Turn the warning into an error with
        `warnings.simplefilter("error", tr.ad.NonFiniteGradientWarning)`."""
        if self.params is None:
            raise RuntimeError("the optimizer is not linked to parameters: call params.update(opt) first")
        g = np.asarray(self.params.grad(key), np.float32).reshape(self.variables[key].shape)
        return self._finite(key, g, stacklevel=4)

    def _finite(self, key: str, g: np.ndarray, stacklevel: int = 3) -> np.ndarray:
        """g with non-finite entries set to 0, counted and warned about (see `gradient`)."""
        bad = ~np.isfinite(g)
        if bad.any():
            self.nonfinite_steps[key] = self.nonfinite_steps.get(key, 0) + 1
            warnings.warn(
                f"gradient of '{key}' has {int(bad.sum())} non-finite entries of {g.size}; "
                "they were treated as 0 for this step",
                NonFiniteGradientWarning,
                stacklevel=stacklevel,
            )
            g = np.where(bad, np.float32(0.0), g)
        return g

    def step(self, gradients: dict | None = None) -> None:
        """Take one step on every key from the gradients of the last ``ti.ad.Tape``. All
        gradients are read before any value changes (an error leaves every value as it was).

        Args:
            gradients: optional ``{key: gradient}`` (numpy, torch or anything array-like,
                shaped like the value) for keys whose gradients come from elsewhere, e.g. a
                variable that is not a scene parameter (the differential form of
                `LargeSteps`) differentiated by torch; the other keys read ``params.grad``.
        """
        given = {}
        for key, g in (gradients or {}).items():
            if key not in self.variables:
                raise KeyError(f"optimizer has no key {key!r} to take a gradient for")
            if type(g).__module__.startswith("torch"):
                g = g.detach().cpu().numpy()
            g = np.asarray(g, np.float32)
            if g.size != self.variables[key].size:
                raise ValueError(f"gradient of {key!r} has {g.size} values, the variable {self.variables[key].size}")
            given[key] = self._finite(key, g.reshape(self.variables[key].shape))
        grads = {key: given[key] if key in given else self.gradient(key) for key in list(self.variables)}
        for key, g in grads.items():
            self.variables[key] = self._update(key, g).astype(np.float32)

    def reset(self, key: str) -> None:
        raise NotImplementedError

    def _update(self, key: str, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SGD(Optimizer):
    """Gradient descent with momentum: v = momentum * v + lr * g; x -= v."""

    def __init__(self, lr: float, momentum: float = 0.0, params=None):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        super().__init__(lr, params)

    def reset(self, key: str) -> None:
        self.state[key] = np.zeros_like(self.variables[key])

    def _update(self, key, g):
        v = self.momentum * self.state[key] + self.learning_rate(key) * g
        self.state[key] = v
        return self.variables[key] - v

    def __repr__(self):
        return f"SGD(lr={self.lr}, momentum={self.momentum}, keys={list(self.variables)})"


class Adam(Optimizer):
    """Adam (Kingma and Ba 2014) with Mitsuba's options.

    Args:
        lr: learning rate (float > 0).
        beta_1, beta_2: decay of the first and second moment estimates (0.9, 0.999).
        epsilon: added to the denominator (1e-8).
        mask_updates: update only the entries whose gradient is non-zero (moments included),
            as Mitsuba's option for sparse gradients such as textures.
        params: the `SceneParameters` to read gradients from (default None: set by
            ``params.update(opt)``).
        uniform: the uniform Adam of Nicolet et al. 2021 ("Large Steps in Inverse Rendering of
            Geometry"; Mitsuba's ``uniform=True``, default False): the second moment of a key
            is replaced by its maximum over all the key's entries, so the step is
            ``lr_t * m / (sqrt(max(v)) + epsilon)`` and every entry moves on the same scale
            (the entry with the largest second moment by about ``lr``, the others by less).
            Meant for vertex positions in the differential form of `LargeSteps`, where a
            per-entry normalisation would undo the smoothing.

    With ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`` (bias correction at step t),
    the step of an entry is ``lr_t * m / (sqrt(v) + epsilon)``, or the uniform one above."""

    def __init__(self, lr: float, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 mask_updates: bool = False, params=None, uniform: bool = False):
        for name, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {b}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.mask_updates = bool(mask_updates)
        self.uniform = bool(uniform)
        super().__init__(lr, params)

    def reset(self, key: str) -> None:
        zeros = np.zeros_like(self.variables[key])
        self.state[key] = (0, zeros, zeros.copy())

    def _update(self, key, g):
        t, m, v = self.state[key]
        t += 1
        m_new = self.beta_1 * m + (1.0 - self.beta_1) * g
        v_new = self.beta_2 * v + (1.0 - self.beta_2) * g * g
        if self.mask_updates:
            active = g != 0
            m_new = np.where(active, m_new, m)
            v_new = np.where(active, v_new, v)
        self.state[key] = (t, m_new, v_new)
        lr_t = self.learning_rate(key) * np.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        if self.uniform:  # one scale for the whole key (Nicolet et al. 2021)
            scale = np.sqrt(v_new.max()) if v_new.size else 0.0
            step = lr_t * m_new / (scale + self.epsilon)
        else:
            step = lr_t * m_new / (np.sqrt(v_new) + self.epsilon)
        if self.mask_updates:
            step = np.where(g != 0, step, 0.0)
        return self.variables[key] - step

    def __repr__(self):
        uniform = ", uniform=True" if self.uniform else ""
        return (f"Adam(lr={self.lr}, beta_1={self.beta_1}, beta_2={self.beta_2}{uniform}, "
                f"keys={list(self.variables)})")
