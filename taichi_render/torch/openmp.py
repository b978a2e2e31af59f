"""Keep torch's idle OpenMP workers off the cores while the renderer runs.

After each parallel torch operation (a loss over an image, its backward), the OpenMP runtime
torch uses keeps its worker threads spinning for a while in case more work comes (libgomp's
default wait policy: some milliseconds). A render launched in that window shares the cores with
them: on the 2-core development machine the red-wall loop driven by torch took 10 ms per
iteration where the same loop under ``ti.ad.Tape`` took 6.8 ms.

`release_idle_workers` ends that wait before the bridge launches a render: it calls OpenMP 5's
``omp_pause_resource_all(omp_pause_soft)`` in the runtime torch loaded, which lets the calling
thread's idle workers exit (nothing else: other threads' pools, settings and results are
untouched). torch's next parallel operation starts its workers again, which takes some tens
of microseconds. Set ``TR_TORCH_OMP_PAUSE=0`` to leave the workers alone.
"""

from __future__ import annotations

import ctypes
import functools
import os

_OMP_PAUSE_SOFT = 1  # omp_pause_resource_t: omp_pause_soft
# the OpenMP runtimes torch builds ship with (GNU on Linux, LLVM on macOS, Intel's in some builds)
_RUNTIMES = ("libgomp.so.1", "libomp.so", "libiomp5.so", "libomp.dylib")


@functools.lru_cache(maxsize=1)
def _pause_function():
    """``omp_pause_resource_all`` of an OpenMP runtime already loaded in this process, or None.
    Only runtimes that are loaded are used (RTLD_NOLOAD): this never loads a library."""
    import torch  # noqa: F401  (the runtime of interest is the one torch loaded)

    flags = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 0)
    if not flags & getattr(os, "RTLD_NOLOAD", 0):
        return None  # cannot look up loaded libraries without loading (not a POSIX system)
    for name in _RUNTIMES:
        try:
            lib = ctypes.CDLL(name, mode=flags)
        except OSError:
            continue
        pause = getattr(lib, "omp_pause_resource_all", None)
        if pause is not None:
            pause.argtypes = [ctypes.c_int]
            pause.restype = ctypes.c_int
            return pause
    return None


def enabled() -> bool:
    """Whether the bridge releases idle workers (``TR_TORCH_OMP_PAUSE``, default on)."""
    return os.environ.get("TR_TORCH_OMP_PAUSE", "1") != "0"


def release_idle_workers() -> bool:
    """Let the calling thread's idle OpenMP workers exit; True when the runtime did. A no-op
    returning False when switched off, when no OpenMP runtime is loaded, or inside a parallel
    region (the runtime refuses)."""
    if not enabled():
        return False
    pause = _pause_function()
    return pause is not None and pause(_OMP_PAUSE_SOFT) == 0
