"""cpu_threads: Taichi's worker threads are bound to distinct CPUs (see cpu_threads.py)."""

import os
import subprocess
import sys
import threading

import pytest

import taichi_render as tr
from taichi_render import backend, cpu_threads

CPUS = sorted(os.sched_getaffinity(0))


def _run_time_ns(tid: int) -> int:
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0])


def test_the_threads_that_render_are_pinned_to_distinct_cpus():
    placed = backend._state.get("pinned_threads", {})
    reason = cpu_threads.unsafe_reason(CPUS, len(CPUS), cpu_threads.quota_cpus())
    if reason or backend.current_arch() != "cpu":
        assert placed == {}  # nothing to spread threads over, or not safely
        pytest.skip(f"threads are not pinned here: {reason or 'not the CPU backend'}")
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
        if cpu_threads.unsafe_reason(CPUS, len(CPUS), cpu_threads.quota_cpus()):
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
    safe = cpu_threads.unsafe_reason(CPUS, len(CPUS), cpu_threads.quota_cpus()) is None
    assert int(out.stdout.strip().splitlines()[-1]) >= (2 if safe else 0)


def test_pinning_is_safe_only_with_one_worker_per_cpu_and_no_smaller_quota():
    assert cpu_threads.unsafe_reason([0, 1], 2, None) is None
    assert cpu_threads.unsafe_reason([0, 1, 2, 3], 4, 4.0) is None
    assert "worker threads" in cpu_threads.unsafe_reason([0, 1], 1, None)  # one rank of several
    assert "worker threads" in cpu_threads.unsafe_reason([0, 1], 4, None)
    assert "quota" in cpu_threads.unsafe_reason([0, 1], 2, 1.5)  # a container granted 1.5 CPUs
    assert cpu_threads.unsafe_reason([3], 1, None) == "one CPU"


@pytest.mark.parametrize("version, files, expected", [
    ("v2", {"cpu.max": "150000 100000"}, 1.5),
    ("v2", {"cpu.max": "max 100000"}, None),
    ("v1", {"cpu.cfs_quota_us": "300000", "cpu.cfs_period_us": "100000"}, 3.0),
    ("v1", {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"}, None),
])
def test_cpu_quota_is_read_from_the_process_cgroup(tmp_path, monkeypatch, version, files, expected):
    folder = tmp_path / ("grp" if version == "v2" else "cpu/grp")
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text + "\n")
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("0::/grp\n" if version == "v2" else "4:memory:/x\n2:cpu,cpuacct:/grp\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: real_open(cgroup if f == "/proc/self/cgroup" else f, *a, **k))
    assert cpu_threads.quota_cpus(str(tmp_path)) == expected


def test_a_process_with_fewer_workers_than_cpus_is_not_pinned():
    """Two ranks of one thread each on a 2-core machine would both pin to the first CPU."""
    code = ("import taichi_render as tr; from taichi_render import backend; tr.init('cpu', cpu_max_num_threads=1); "
            "print(len(backend._state['pinned_threads']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0"
