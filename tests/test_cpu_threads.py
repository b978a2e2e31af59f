"""cpu_threads: Taichi's worker threads are bound to distinct CPUs (see cpu_threads.py)."""

import os
import subprocess
import sys
import threading

import taichi_render as tr
from taichi_render import backend, cpu_threads

CPUS = sorted(os.sched_getaffinity(0))


def _run_time_ns(tid: int) -> int:
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0])


def test_the_threads_that_render_are_pinned_to_distinct_cpus():
    placed = backend._state.get("pinned_threads", {})
    if len(CPUS) < 2 or backend.current_arch() != "cpu":
        assert placed == {}  # nothing to spread threads over
        return
    assert set(placed.values()) == set(CPUS)
    assert threading.get_native_id() not in placed
    assert os.sched_getaffinity(0) == set(CPUS)  # the main thread is left alone
    scene = tr.load_dict(tr.cornell_box())
    before = {t: _run_time_ns(t) for t in cpu_threads.thread_ids()}
    for _ in range(3):
        tr.render(scene, spp=4).to_numpy()
    busy = [t for t in before if _run_time_ns(t) - before[t] > 1e6 and t != threading.get_native_id()]
    assert busy and all(t in placed for t in busy), (busy, placed)
    for tid in busy:
        assert os.sched_getaffinity(tid) == {placed[tid]}
    # consecutive workers of the pool sit on different CPUs
    assert len({placed[t] for t in busy}) == min(len(busy), len(CPUS))


def test_pin_new_threads_binds_only_new_threads_round_robin():
    before = cpu_threads.thread_ids()
    stop = threading.Event()
    workers = [threading.Thread(target=stop.wait) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        placed = cpu_threads.pin_new_threads(before)
        ids = [w.native_id for w in workers]
        if len(CPUS) < 2:
            assert placed == {}
        else:
            assert sorted(placed) == sorted(ids)
            assert [placed[t] for t in sorted(ids)] == [CPUS[k % len(CPUS)] for k in range(3)]
            assert all(os.sched_getaffinity(t) == {placed[t]} for t in ids)
    finally:
        stop.set()
        for w in workers:
            w.join()


def test_switched_off_by_the_environment():
    code = ("import taichi_render as tr; from taichi_render import backend; tr.init('cpu'); "
            "print(len(backend._state['pinned_threads']))")
    env = dict(os.environ, TR_PIN_THREADS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0"
    env["TR_PIN_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) >= (2 if len(CPUS) >= 2 else 0)
