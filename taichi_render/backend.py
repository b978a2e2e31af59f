"""Taichi initialisation: one place that chooses the architecture and the kernel cache.

`init(arch="auto")` is idempotent; importing the package never calls it. Loaders and renderers
call :func:`ensure_init` so that a script that never called `init` still works.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import warnings

import taichi as ti

from . import cpu_threads, llvm_host_cpu, taichi_frontend

_state = {"arch": None}

# Scene views are plain Python objects handed to @ti.func helpers as templates (see
# render/view.py); Taichi warns about the constructor call at compile time.
warnings.filterwarnings("ignore", message=".*Calling non-taichi function.*")


def init(arch: str = "auto", **ti_kwargs) -> str:
    """Initialise Taichi once and return the architecture name in use.

    Args:
        arch: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
        **ti_kwargs: passed to ``ti.init`` (e.g. ``debug=True``, ``cpu_max_num_threads``).

    A second call with the same arch does nothing; a second call asking for another arch raises
    ``RuntimeError`` (re-initialising Taichi would invalidate every scene already loaded).
    """
    if arch not in ("auto", "cpu", "cuda"):
        raise ValueError(f"arch must be 'auto', 'cpu' or 'cuda', got {arch!r}")
    if _state["arch"] is not None:
        if arch != "auto" and arch != _state["arch"]:
            raise RuntimeError(
                f"taichi_render is already initialised on {_state['arch']!r}; "
                f"cannot switch to {arch!r} in the same process"
            )
        return _state["arch"]
    if arch == "auto" and ctypes.util.find_library("cuda") is None:
        arch = "cpu"  # no CUDA driver: skip Taichi's noisy fallback
    ti_arch = ti.cpu if arch == "cpu" else ti.cuda  # Taichi falls back to CPU without a GPU
    kwargs = {"default_fp": ti.f32, "default_ip": ti.i32}
    if "TI_LOG_LEVEL" not in os.environ:
        kwargs["log_level"] = ti.WARN
    host_cpu = llvm_host_cpu.tune()  # before any kernel is compiled: see llvm_host_cpu.py
    if host_cpu and "offline_cache_file_path" not in ti_kwargs:
        # kernels optimised for one CPU name are cached apart from those of another
        base = os.environ.get("TI_OFFLINE_CACHE_FILE_PATH") or ti.lang.impl.default_cfg().offline_cache_file_path
        kwargs["offline_cache_file_path"] = os.path.join(base, llvm_host_cpu.cache_tag())
    kwargs.update(ti_kwargs)
    # Taichi warns when an argument overrides its environment variable; the cache folder above
    # is derived from that variable, so it is hidden from ti.init for the call
    hidden = os.environ.pop("TI_OFFLINE_CACHE_FILE_PATH", None) if "offline_cache_file_path" in kwargs else None
    threads_before = cpu_threads.thread_ids()
    try:
        ti.init(arch=ti_arch, **kwargs)
    finally:
        if hidden is not None:
            os.environ["TI_OFFLINE_CACHE_FILE_PATH"] = hidden
    llvm_host_cpu.tune_optimiser()  # after ti.init, which gave the code generator its name
    taichi_frontend.install()
    actual = "cuda" if ti.lang.impl.current_cfg().arch == ti.cuda else "cpu"
    if actual == "cpu":
        _state["pinned_threads"] = cpu_threads.pin_new_threads(threads_before)  # see cpu_threads.py
    if arch == "cuda" and actual != "cuda":
        raise RuntimeError("arch='cuda' was requested but CUDA is not available")
    _state["arch"] = actual
    return actual


@contextlib.contextmanager
def megakernel_compile():
    """Compile the kernels launched inside without Taichi's "advanced" IR optimisations.

    Those passes scale badly with the size of a megakernel: measured here, the path tracer
    compiled in 398 s with them and 7.8 s without, and ran at the same speed (LLVM still
    optimises the code). They stay on for every other kernel: Taichi's autodiff needs them
    (without them, the gradient of a plain MSE kernel comes out NaN)."""
    cfg = ti.lang.impl.current_cfg()
    previous = cfg.advanced_optimization
    cfg.advanced_optimization = False
    try:
        yield
    finally:
        cfg.advanced_optimization = previous


def ensure_init() -> str:
    """Initialise with the defaults unless somebody already did."""
    return _state["arch"] or init()


def current_arch() -> str | None:
    """The architecture chosen by :func:`init`, or None before it ran."""
    return _state["arch"]


def torch_device() -> str:
    """The torch device matching Taichi's arch ("cuda" or "cpu")."""
    return "cuda" if _state["arch"] == "cuda" else "cpu"
