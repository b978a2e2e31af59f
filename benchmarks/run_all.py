"""Run every benchmark and print markdown tables (`make bench`)."""

import pathlib
import runpy
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

for name in ["bench_forward.py", "bench_scenes.py", "bench_inversion.py", "bench_forward_mode.py", "bench_memory.py",
             "bench_startup.py", "bench_scaling.py", "bench_shape.py", "bench_distributed.py"]:
    runpy.run_path(str(HERE / name), run_name="__main__")
    print()
