"""Differentiable rendering: scene parameters (`traverse`), optimizers, losses, forward mode,
Large Steps (`LargeSteps`)."""

from .forward import render_forward
from .gradient_scope import PartialGradientWarning
from .large_steps import LargeSteps
from .losses import l1, loss_field, mse
from .optimizers import SGD, Adam, NonFiniteGradientWarning, Optimizer
from .params import SceneParameters, traverse

__all__ = [
    "SGD",
    "Adam",
    "LargeSteps",
    "NonFiniteGradientWarning",
    "Optimizer",
    "PartialGradientWarning",
    "SceneParameters",
    "l1",
    "loss_field",
    "mse",
    "render_forward",
    "traverse",
]
