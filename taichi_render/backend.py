"""Taichi initialisation: one place that chooses the architecture and the kernel cache.

`init(arch="auto")` is idempotent; importing the package never calls it. Loaders and renderers
call :func:`ensure_init` so that a script that never called `init` still works.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os

import taichi as ti

from . import cpu_threads, llvm_host_cpu, taichi_frontend

_state = {"arch": None}

# Taichi's offline cache drops its least recently used quarter when it outgrows this (Taichi's
# default, 100 MiB, holds a few dozen path tracer variants of 1-4 MB each)
OFFLINE_CACHE_BYTES = 1 << 30


def init(arch: str = "auto", **ti_kwargs) -> str:
    """Initialise Taichi once and return the architecture name in use.

    Args:
        arch: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
        **ti_kwargs: passed to ``ti.init`` (e.g. ``debug=True``, ``cpu_max_num_threads``,
            ``fast_math``). Defaults: ``default_fp=ti.f32``, ``default_ip=ti.i32``, log level
            ``warn`` unless ``TI_LOG_LEVEL`` is set, the offline cache in a folder of its
            own per LLVM setting (below), holding up to 1 GiB
            (``offline_cache_max_size_of_files``, unless ``TI_OFFLINE_CACHE_MAX_SIZE_OF_FILES``
            is set) before Taichi drops the least recently used kernels.

    A second call with the same arch does nothing; a second call asking for another arch raises
    ``RuntimeError`` (re-initialising Taichi would invalidate every scene already loaded).

    What it changes in the process besides ``ti.init`` (docs/host_process.md, each with its
    switch), on the CPU backend only:

    - the CPU name Taichi's LLVM optimises for, and fused multiply-adds when ``fast_math`` is
      on (``llvm_host_cpu``: ``TR_HOST_CPU``, ``TR_WIDE_VECTORS``, ``TR_FMA``); these reach every
      CPU kernel of the process;
    - the CPU affinity of the worker threads ``ti.init`` creates, where that cannot stack
      processes on the same cores (``cpu_threads``: ``TR_PIN_THREADS``);
    - the debug information Taichi's frontend attaches to statements (``taichi_frontend``:
      ``TR_FAST_FRONTEND``).
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
    if "TI_OFFLINE_CACHE_MAX_SIZE_OF_FILES" not in os.environ:
        kwargs["offline_cache_max_size_of_files"] = OFFLINE_CACHE_BYTES
    host_cpu = None
    if llvm_host_cpu.applicable(arch):  # before any kernel is compiled: see llvm_host_cpu.py
        host_cpu = llvm_host_cpu.tune(fast_math=_fast_math(ti_kwargs))
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
    actual = "cuda" if ti.lang.impl.current_cfg().arch == ti.cuda else "cpu"
    if host_cpu:
        llvm_host_cpu.tune_optimiser()  # after ti.init, which gave the code generator its name
    if os.environ.get("TR_FAST_FRONTEND", "1") != "0":
        taichi_frontend.install()
    if actual == "cpu":
        workers = ti.lang.impl.current_cfg().cpu_max_num_threads
        _state["pinned_threads"] = cpu_threads.pin_new_threads(threads_before, workers)  # see cpu_threads.py
    if arch == "cuda" and actual != "cuda":
        raise RuntimeError("arch='cuda' was requested but CUDA is not available")
    _state["arch"] = actual
    return actual


def _fast_math(ti_kwargs: dict) -> bool:
    """Whether ti.init will run with fast math: its argument, else TI_FAST_MATH, else Taichi's
    default (on)."""
    if "fast_math" in ti_kwargs:
        return bool(ti_kwargs["fast_math"])
    value = os.environ.get("TI_FAST_MATH", "")
    return bool(int(value)) if value else bool(ti.lang.impl.default_cfg().fast_math)


def process_effects() -> dict[str, bool]:
    """What ``init`` changed in this process outside taichi_render, by name (docs/host_process.md):
    ``host_cpu_name``, ``optimiser_cpu_name``, ``fused_multiply_adds`` (Taichi's LLVM),
    ``pinned_threads`` (worker-thread affinity), ``frontend_hook`` (Taichi's statement debug
    information). All False before ``init``."""
    tuned = llvm_host_cpu.host_cpu_name() is not None and llvm_host_cpu.rewritten_name()
    return {
        "host_cpu_name": bool(tuned),
        "optimiser_cpu_name": llvm_host_cpu.optimiser_cpu_name() != llvm_host_cpu.host_cpu_name(),
        "fused_multiply_adds": llvm_host_cpu.fused_multiply_adds(),
        "pinned_threads": bool(_state.get("pinned_threads")),
        "frontend_hook": taichi_frontend.installed(),
    }


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
