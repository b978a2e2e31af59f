"""Shared helpers of the benchmarks: timing (median after warm-up) and the optional Mitsuba peer."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
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
    except Exception:  # noqa: BLE001  (not installed, or no LLVM for its CPU backend: any error)
        return None


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def worker_results(script: str, kinds: list[str], rounds: int = 3,
                   extra: list[str] = ()) -> dict[str, list[dict]]:
    """Run `python script --worker KIND *extra` for every kind, `rounds` times in alternation, and
    collect the JSON object each prints last: {kind: [result of each round]}.

    Each renderer runs in a process of its own, alone on the machine: in one process, Dr.Jit's
    worker threads were measured to keep cores busy after `mi.render` returned, slowing down
    whatever ran next by up to a third. Alternating the processes spreads the drift of this
    shared machine's speed over every renderer alike."""
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind in kinds:
            out = subprocess.run([sys.executable, script, "--worker", kind, *extra], capture_output=True, text=True,
                                 check=True).stdout
            results[kind].append(json.loads(out.strip().splitlines()[-1]))
    return results


def median_of(results: list[dict], key) -> float:
    return statistics.median(r[str(key)] for r in results)
