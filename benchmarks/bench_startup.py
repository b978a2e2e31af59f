"""Start-up: seconds to the first Cornell box image in a fresh process, with an empty Taichi
offline cache (cold) and with the cache the cold run filled (warm); medians of 3 warm runs."""

from __future__ import annotations

import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

from common import markdown_table

HERE = pathlib.Path(__file__).resolve().parent


def run(cache: str) -> float:
    env = dict(os.environ, TI_OFFLINE_CACHE_FILE_PATH=cache)
    out = subprocess.run([sys.executable, str(HERE / "first_image.py")], env=env, capture_output=True,
                         text=True, check=True).stdout
    return float(re.search(r"first_image_s=([\d.]+)", out).group(1))


def main():
    with tempfile.TemporaryDirectory() as cache:
        cold = run(cache)
        warm = statistics.median(run(cache) for _ in range(3))
    print("Start-up: fresh process to the first Cornell box image (64x64, spp 4)")
    print(markdown_table(["Taichi offline cache", "seconds"], [["cold (empty)", f"{cold:.1f}"], ["warm", f"{warm:.1f}"]]))


if __name__ == "__main__":
    main()
