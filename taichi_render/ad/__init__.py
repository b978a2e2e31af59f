"""Differentiable rendering: scene parameters (`traverse`), optimizers, losses, forward mode."""

from .forward import render_forward
from .losses import l1, loss_field, mse
from .optimizers import SGD, Adam, NonFiniteGradientWarning, Optimizer
from .params import SceneParameters, traverse

__all__ = [
    "SGD",
    "Adam",
    "NonFiniteGradientWarning",
    "Optimizer",
    "SceneParameters",
    "l1",
    "loss_field",
    "mse",
    "render_forward",
    "traverse",
]
