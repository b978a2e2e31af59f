"""Data-parallel optimization (trt.distributed): 2 ranks with gloo give the single process's
gradients and parameters, in a ti.ad.Tape loop and in a DistributedDataParallel torch loop."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from taichi_render.torch import distributed as trd

WORKER = pathlib.Path(__file__).with_name("worker.py")
EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "distributed_shape.py"


# Every process runs one Taichi thread, a rank's share of 2 cores: the thread count is part of
# Taichi's kernel cache key, so the ranks load what the single process compiled.
THREADS = ["--threads", "1"]


def run_ranks(script: pathlib.Path, args: list[str], out: pathlib.Path, ranks: int) -> dict:
    """Run `script` alone (ranks=1) or under torchrun with `ranks` processes; the npz it wrote."""
    env = dict(os.environ)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        env.pop(name, None)
    launcher = [] if ranks == 1 else ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    cmd = [sys.executable, *launcher, str(script), *args]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def run_worker(mode: str, out: pathlib.Path, ranks: int) -> dict:
    return run_ranks(WORKER, [mode, str(out), *THREADS], out, ranks)


@pytest.mark.parametrize("mode", ["tape", "ddp"])
def test_two_ranks_equal_one_process(tmp_path, mode):
    one = run_worker(mode, tmp_path / "one.npz", 1)
    two = run_worker(mode, tmp_path / "two.npz", 2)
    assert int(one["world"]) == 1 and int(two["world"]) == 2
    np.testing.assert_array_equal(one["views"], two["views"])
    grads = [k for k in one if k.startswith("grad:")]
    assert len(grads) == 2
    for key in grads:
        scale = np.abs(one[key]).max()
        assert scale > 0, key  # the gradient is not trivially zero
        np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-5 * scale, err_msg=key)
    for key in [k for k in one if k.startswith("final:")]:
        np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-5, err_msg=key)
        start = "cube.vertex_positions" in key
        assert start or not np.allclose(one[key], 0.5), key  # the colour moved from its start


def test_distributed_shape_example_gives_the_single_process_vertices(tmp_path):
    args = ["--views", "4", "--res", "16", "--spp", "1", "--iterations", "3", *THREADS]
    one = run_ranks(EXAMPLE, [*args, "--out", str(tmp_path / "one.npz")], tmp_path / "one.npz", 1)
    two = run_ranks(EXAMPLE, [*args, "--out", str(tmp_path / "two.npz")], tmp_path / "two.npz", 2)
    assert int(one["world"]) == 1 and int(two["world"]) == 2
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)  # the loss of all views, on rank 0
    assert one["chamfer"][-1] < one["chamfer"][0]  # the shape moves towards the blob
    # Adam scales each coordinate's step by its own gradient history, so where a gradient is
    # near zero the float32 summation order (4 views summed in one process, 2 + 2 across ranks)
    # can change a step by a noticeable part of lr: measured 6e-8 on an AMD Zen 5 and 2.3e-5 on
    # an Intel Xeon (same code), while the vertices move by `moved`. A rank rendering wrong
    # views, or a missing all-reduce, changes the result by a large part of `moved`.
    moved = np.abs(one["vertices"] - one["start"]).max()
    assert moved > 1e-3
    np.testing.assert_array_equal(two["start"], one["start"])
    np.testing.assert_allclose(two["vertices"], one["vertices"], rtol=0, atol=0.01 * moved)


def test_view_sampler_gives_every_step_the_same_views_on_any_rank_count():
    one = trd.ViewSampler(10, views_per_step=4, seed=3, rank=0, world_size=1)
    for world in (2, 4):
        ranks = [trd.ViewSampler(10, views_per_step=4, seed=3, rank=r, world_size=world) for r in range(world)]
        for step in range(7):
            shares = [s.views(step) for s in ranks]
            assert all(len(share) == 4 // world for share in shares)
            assert [v for share in shares for v in share] == one.views(step) == one.global_views(step)


def test_view_sampler_visits_each_view_once_per_epoch_and_depends_on_the_seed():
    sampler = trd.ViewSampler(8, views_per_step=4, seed=1, rank=0, world_size=1)
    assert len(sampler) == 2
    for epoch in range(3):
        seen = sampler.global_views(2 * epoch) + sampler.global_views(2 * epoch + 1)
        assert sorted(seen) == list(range(8))
        assert sampler.epoch(2 * epoch + 1) == epoch
    orders = {tuple(trd.ViewSampler(8, seed=s, rank=0, world_size=1).global_views(0)) for s in range(4)}
    assert len(orders) > 1
    assert trd.ViewSampler(8, seed=1, rank=0, world_size=1).global_views(0) == sampler.epoch_order(0).tolist()
    assert trd.ViewSampler(5, shuffle=False, rank=0, world_size=1).global_views(1) == [0, 1, 2, 3, 4]
    assert sampler.render_seed(3, 5) == trd.render_seed(3, 5, 8) == 29


@pytest.mark.parametrize("kwargs, words", [
    ({"num_views": 0}, "num_views"),
    ({"num_views": 4, "views_per_step": 3, "world_size": 2, "rank": 0}, "multiple"),
    ({"num_views": 4, "world_size": 2, "rank": 2}, "rank"),
    ({"num_views": 4, "views_per_step": 0, "rank": 0, "world_size": 1}, "views_per_step"),
])
def test_view_sampler_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        trd.ViewSampler(**kwargs)


def test_all_reduce_without_a_process_group_returns_the_local_gradients():
    import taichi_render as tr

    tr.init("cpu")
    opt = tr.ad.SGD(lr=0.1)
    opt["u"] = np.zeros((3, 2), np.float32)
    given = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    out = trd.all_reduce_gradients(opt, gradients={"u": given})
    np.testing.assert_array_equal(out["u"], given.numpy())
    with pytest.raises(ValueError, match="op"):
        trd.all_reduce_gradients(opt, gradients={"u": given}, op="max")
    with pytest.raises(TypeError, match="optimizer or scene parameters"):
        trd.all_reduce_gradients({"u": given})
    assert trd.rank() == 0 and trd.world_size() == 1 and trd.is_main_process()
    np.testing.assert_array_equal(trd.all_reduce(given, op="mean"), given.numpy())
    assert trd.all_reduce(2.5).shape == () and float(trd.all_reduce(2.5)) == 2.5
    with pytest.raises(ValueError, match="op"):
        trd.all_reduce(1.0, op="max")
    trd.destroy_process_group()  # nothing to end: a no-op
    assert not torch.distributed.is_initialized()


def test_rank_threads_share_the_cpus():
    cpus = len(os.sched_getaffinity(0))
    assert trd.rank_threads(1) == cpus
    assert trd.rank_threads(cpus) == 1
    assert trd.rank_threads(4 * cpus) == 1
