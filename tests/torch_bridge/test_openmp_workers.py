"""The torch bridge releases torch's idle OpenMP workers before it renders (torch/openmp.py):
they exit, torch starts them again at its next parallel operation, results do not change."""

import os
import sys
import time

import numpy as np
import pytest
import torch

import taichi_render as tr
import taichi_render.torch as trt
from taichi_render.torch import openmp

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or torch.get_num_threads() < 2,
                                reason="counts threads in /proc and needs torch to run 2 or more OpenMP threads")


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def parallel_torch_op() -> float:
    x = torch.linspace(0.0, 1.0, 4_000_000)
    return float((x * x).sum())  # large enough for torch to use its OpenMP threads


def settle(expected_drop: int, before: int, timeout: float = 2.0) -> int:
    deadline = time.monotonic() + timeout
    while thread_count() > before - expected_drop and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread_count()


def test_release_ends_the_idle_workers_and_torch_starts_them_again(monkeypatch):
    monkeypatch.delenv("TR_TORCH_OMP_PAUSE", raising=False)
    expected = parallel_torch_op()
    with_workers = thread_count()
    assert openmp.release_idle_workers()
    without = settle(1, with_workers)
    assert without < with_workers  # the workers exited
    assert parallel_torch_op() == expected
    assert thread_count() > without  # torch started them again
    monkeypatch.setenv("TR_TORCH_OMP_PAUSE", "0")
    again = thread_count()
    assert not openmp.release_idle_workers()  # switched off: nothing happens
    time.sleep(0.05)
    assert thread_count() == again


def test_bridge_gradients_do_not_depend_on_the_release(monkeypatch):
    tr.init("cpu")
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 16
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    key = "red.reflectance.value"
    results = []
    for switch in ("1", "0"):
        monkeypatch.setenv("TR_TORCH_OMP_PAUSE", switch)
        colour = torch.tensor([0.3, 0.4, 0.5], requires_grad=True)
        image = trt.render(scene, params, spp=2, seed=3, **{key: colour})
        (image ** 2).mean().backward()
        results.append((image.detach().numpy(), colour.grad.numpy().copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert np.abs(results[0][1]).max() > 0
