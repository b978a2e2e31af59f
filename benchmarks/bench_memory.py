"""Peak resident memory of reverse-mode passes at max_depth 3 and 12, each in a fresh process
(benchmarks/backward_memory.py): the peak of the backward passes after the first iteration, and
the process's peak including kernel compilation."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

from common import markdown_table

HERE = pathlib.Path(__file__).resolve().parent


def main():
    rows = []
    peaks = {}
    # a first process fills Taichi's offline cache, so that both measured processes load kernels
    subprocess.run([sys.executable, str(HERE / "backward_memory.py"), "3", "16"], capture_output=True, check=True)
    for depth in (3, 12):
        out = subprocess.run([sys.executable, str(HERE / "backward_memory.py"), str(depth)],
                             capture_output=True, text=True, check=True).stdout
        m = re.search(r"peak_rss_mib=([\d.]+) compile_peak_mib=([\d.]+) backward_ms=([\d.]+)", out)
        peaks[depth] = float(m.group(1))
        rows.append([depth, m.group(1), m.group(3), m.group(2)])
    print(f"Backward pass memory (256x256, spp 1); depth 12 / depth 3 = {peaks[12] / peaks[3]:.2f}")
    print(markdown_table(["max_depth", "peak RSS MiB", "iteration ms", "peak with kernel compilation MiB"], rows))


if __name__ == "__main__":
    main()
