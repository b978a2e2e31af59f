"""tr.init: idempotent, validates its argument, refuses to switch arch mid-process."""

import pytest

import taichi_render as tr
from taichi_render import backend


def test_init_is_idempotent_and_reports_arch():
    arch = backend.current_arch()
    assert arch in ("cpu", "cuda")
    assert tr.init("auto") == arch
    assert tr.init(arch) == arch


def test_init_rejects_unknown_arch_and_switches():
    with pytest.raises(ValueError, match="arch"):
        tr.init("vulkan")
    other = "cuda" if backend.current_arch() == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match="already initialised"):
        tr.init(other)
