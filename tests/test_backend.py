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


def test_frontend_hook_keeps_full_error_excerpts():
    # taichi_frontend.py shortens the debug info of every statement, not compile errors
    import taichi as ti

    from taichi_render import taichi_frontend

    assert taichi_frontend.install()

    @ti.kernel
    def broken(x: ti.f32) -> ti.f32:
        return x + undefined_name  # noqa: F821

    with pytest.raises(ti.TaichiNameError) as info:
        broken(1.0)
    message = str(info.value)
    assert "test_backend.py" in message and "undefined_name" in message
    assert "^^^^" in message  # the caret excerpt under the culprit
