"""Shared helpers of the benchmarks: timing (median after warm-up) and the optional Mitsuba peer."""

from __future__ import annotations

import statistics
import time


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of `fn()` over `repeats` runs after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mitsuba():
    """The `mitsuba` module with the `llvm_ad_rgb` variant set, or None when not installed."""
    try:
        import mitsuba as mi

        mi.set_variant("llvm_ad_rgb")
        return mi
    except Exception:  # not installed, or no LLVM for its CPU backend
        return None


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
