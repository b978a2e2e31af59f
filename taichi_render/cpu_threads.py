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

Pinning is done only where it cannot stack processes on the same cores: when Taichi's pool has
one worker per CPU this process may use (each process then spans all of its CPUs, so pinned
processes share cores exactly as unpinned ones would) and no CPU quota of the process's
control group (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``) grants fewer CPUs than that.
A process started with ``cpu_max_num_threads=1`` (one rank of several, for instance), a
restricted thread count or a CPU quota is left alone. ``TR_PIN_THREADS=0`` turns it off
everywhere.
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


def quota_cpus(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs' worth of time the process's cgroup may use (quota / period), None without a quota."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = [line.strip().split(":", 2) for line in f if line.strip()]
    except OSError:
        return None
    for _, controllers, path in lines:
        path = path.lstrip("/")
        if controllers == "":  # cgroup v2: "max 100000" or "<quota> <period>"
            candidates = [(os.path.join(root, path, "cpu.max"), None)]
        elif "cpu" in controllers.split(","):  # cgroup v1
            candidates = [(os.path.join(root, sub, path, "cpu.cfs_quota_us"),
                           os.path.join(root, sub, path, "cpu.cfs_period_us"))
                          for sub in ("cpu", "cpu,cpuacct", "cpuacct,cpu")]
        else:
            continue
        for quota_file, period_file in candidates:
            try:
                with open(quota_file) as f:
                    fields = f.read().split()
                if period_file is not None:
                    with open(period_file) as f:
                        fields.append(f.read().strip())
            except OSError:
                continue
            if len(fields) < 2 or fields[0] in ("max", "-1"):
                return None
            return int(fields[0]) / int(fields[1])
    return None


def unsafe_reason(cpus: list[int], workers: int, quota: float | None) -> str | None:
    """Why pinning `workers` pool threads to `cpus` could stack processes on cores (None: safe)."""
    if len(cpus) < 2:
        return "one CPU"
    if workers != len(cpus):
        return f"{workers} worker threads for {len(cpus)} CPUs"
    if quota is not None and quota < len(cpus):
        return f"a CPU quota of {quota:g} CPUs"
    return None


def pin_new_threads(before: list[int], workers: int | None = None) -> dict[int, int]:
    """Bind every thread that did not exist in `before` to one allowed CPU, round-robin, when
    Taichi's pool of `workers` threads (None: one per allowed CPU) can be pinned safely
    (`unsafe_reason`).

    Returns {thread id: cpu}; {} when pinning is off, unsafe or pointless (one CPU)."""
    if not enabled():
        return {}
    cpus = sorted(os.sched_getaffinity(0))
    if unsafe_reason(cpus, len(cpus) if workers is None else workers, quota_cpus()):
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
