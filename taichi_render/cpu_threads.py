"""Pin Taichi's CPU worker threads, one to each CPU this process may run on.

Taichi runs a parallel loop on a pool of worker threads (one per CPU by default) that sleep
between launches. On the 2-core virtual machines this project is measured on, the kernel's
scheduler often woke both workers on the *same* CPU: the CPU time of a Cornell box render at
spp 1 stayed at 12-13 ms while its wall time jumped between 6.5 and 12.5 ms from one launch to
the next (the whole render ran on one core about half of the time). Bound to distinct CPUs, as
OpenMP runtimes do with ``OMP_PROC_BIND``, the workers always run side by side.

Taichi does not name its threads, so the threads that ``ti.init`` creates (its compile
workers and its pool workers) are spread round-robin over the allowed CPUs in creation order;
consecutive pool workers land on distinct CPUs. The main thread and threads created by others
(torch, numpy) are left alone.

``TR_PIN_THREADS=0`` turns this off.
"""

from __future__ import annotations

import os
import sys


def thread_ids() -> list[int]:
    """Ids of this process's threads, in creation order (Linux; [] elsewhere)."""
    try:
        return sorted(int(t) for t in os.listdir("/proc/self/task"))
    except OSError:
        return []


def enabled() -> bool:
    return os.environ.get("TR_PIN_THREADS", "1") != "0" and sys.platform.startswith("linux")


def pin_new_threads(before: list[int]) -> dict[int, int]:
    """Bind every thread that did not exist in `before` to one allowed CPU, round-robin.

    Returns {thread id: cpu}; {} when pinning is off, impossible or pointless (one CPU)."""
    if not enabled():
        return {}
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return {}
    old = set(before)
    placed = {}
    for k, tid in enumerate(t for t in thread_ids() if t not in old):
        try:
            os.sched_setaffinity(tid, {cpus[k % len(cpus)]})
        except OSError:  # the thread exited meanwhile
            continue
        placed[tid] = cpus[k % len(cpus)]
    return placed
