"""Data-parallel scaling (issue: scale out): time per step of examples/distributed_shape.py (a
blob recovered from 8 views, prb_projective, 64x64 and 128x128, spp 4, Large Steps, Adam) with 1 rank of 1
thread, 2 ranks of 1 thread each (torchrun, gloo) and 1 process of 2 threads.

Each configuration runs as its own processes, the configurations in alternation for several
rounds (the machine's speed drifts); each run reports the mean time of its steps after the
first (which loads the kernels). The table gives the median over rounds and views per second.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

import numpy as np
from common import markdown_table

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "distributed_shape.py"
CONFIGS = {  # name: (ranks, threads per rank)
    "1 rank, 1 thread": (1, 1),
    "2 ranks, 1 thread each": (2, 1),
    "1 process, 2 threads": (1, 2),
}


def run(ranks: int, threads: int, args: list[str]) -> float:
    """Seconds per step of one run of the example."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "run.npz"
        launcher = [] if ranks == 1 else ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")}
        env["OMP_NUM_THREADS"] = "1"  # torch's own threads, as torchrun sets them for its ranks
        subprocess.run([sys.executable, *launcher, str(EXAMPLE), *args, "--threads", str(threads), "--out", str(out)],
                       env=env, check=True, capture_output=True, text=True)
        with np.load(out) as data:
            return float(data["seconds_per_iteration"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iterations", type=int, default=8)
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--res", type=int, nargs="+", default=[64, 128], help="image sizes, one table each")
    p.add_argument("--spp", type=int, default=4)
    a = p.parse_args(argv)
    for res in a.res:
        table(a, res)


def table(a, res: int) -> None:
    args = ["--views", str(a.views), "--res", str(res), "--spp", str(a.spp), "--iterations", str(a.iterations),
            "--log-every", str(10 * a.iterations)]
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(a.rounds):
        for name, (ranks, threads) in CONFIGS.items():
            times[name].append(run(ranks, threads, args))
    base = statistics.median(times["1 rank, 1 thread"])
    rows = []
    for name, ts in times.items():
        t = statistics.median(ts)
        rows.append([name, f"{1000 * t:.0f}", f"{a.views / t:.1f}", f"{base / t:.2f}x",
                     " ".join(f"{1000 * x:.0f}" for x in ts)])
    print(f"### Data-parallel shape optimization ({a.views} views, {res}x{res}, spp {a.spp}, "
          f"{a.iterations} steps, median of {a.rounds} rounds)\n")
    print(markdown_table(["configuration", "ms / step", "views / s", "vs 1 rank", "rounds (ms)"], rows))
    print()


if __name__ == "__main__":
    main()
