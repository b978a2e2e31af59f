"""Data-parallel optimization over many views and processes, through ``torch.distributed``.

Each process (rank) is its own Taichi process that loads the same scene, renders its share of
the views and computes the gradient of its share of the loss; the gradients are averaged over
the ranks, and every rank takes the same optimizer step. Launched by ``torchrun``::

    torchrun --nproc_per_node=2 my_optimization.py

Two ways to write the loop, with the same views and seeds on every rank count:

- torch: the scene parameters are ``nn.Parameter`` s of a module that calls `trt.render` (or
  a `trt.RenderLayer`) for its views, wrapped in
  ``torch.nn.parallel.DistributedDataParallel``, which averages the gradients in backward;
- ``ti.ad.Tape``: the loop is unchanged except for its step,
  ``opt.step(gradients=all_reduce_gradients(opt))``.

`ViewSampler` picks each step's views (the same global set on 1 or N ranks) and splits them
evenly; with a per-rank loss that is the mean over the rank's views, the averaged gradient is
the gradient of the mean over all the step's views, whatever the number of ranks (up to the
order of float32 sums). `render_seed` keys each view's noise by (step, view), not by rank.

`init_process_group` sets up a rank: torch's process group from torchrun's environment and
Taichi with its share of the CPU cores. Nothing else in taichi_render assumes one process:
the kernel cache is shared safely (Taichi locks it; taichi_render's own record is replaced
atomically), threads are pinned only when a process has one worker per CPU it may use, and a
`tr.preview.Preview` opens a window on rank 0 only (other ranks compose frames).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.distributed as dist

from ..ad.optimizers import Optimizer
from ..ad.params import SceneParameters
from ..backend import init

__all__ = [
    "ViewSampler",
    "all_reduce",
    "all_reduce_gradients",
    "destroy_process_group",
    "init_process_group",
    "is_main_process",
    "rank",
    "render_seed",
    "world_size",
]


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank in the default process group (0 without one)."""
    return dist.get_rank() if _active() else 0


def world_size() -> int:
    """Number of ranks in the default process group (1 without one)."""
    return dist.get_world_size() if _active() else 1


def _place() -> tuple[int, int]:
    return rank(), world_size()


def is_main_process() -> bool:
    """True on rank 0, and in a process without a process group."""
    return rank() == 0


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def rank_threads(local_world_size: int | None = None) -> int:
    """Taichi worker threads for one of `local_world_size` ranks on this machine (default: the
    ``LOCAL_WORLD_SIZE`` torchrun sets, else 1): the usable CPUs divided evenly, at least 1."""
    if local_world_size is None:
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, _usable_cpus() // max(1, local_world_size))


def init_process_group(backend: str | None = None, arch: str = "auto", threads: int | None = None,
                       **ti_kwargs) -> tuple[int, int]:
    """Join the process group torchrun describes and initialise Taichi for this rank.

    Args:
        backend: torch.distributed backend; default ``nccl`` when Taichi runs on CUDA and
            torch sees a GPU, else ``gloo``.
        arch: ``tr.init``'s arch.
        threads: Taichi CPU worker threads of this rank (``cpu_max_num_threads``); default
            `rank_threads()`: the usable CPUs shared evenly among the ranks of this machine,
            so that ranks do not oversubscribe the cores.
        **ti_kwargs: more ``tr.init`` arguments.
    Returns:
        (rank, world_size). Without torchrun's environment (``RANK``, ``WORLD_SIZE``,
        ``MASTER_ADDR``, ``MASTER_PORT``) the process runs alone: no process group is made and
        (0, 1) is returned.

    A process group that already exists is kept. Taichi initialised before keeps its settings
    (``tr.init`` runs once per process). What ``tr.init`` changes is listed in
    docs/host_process.md; this function changes nothing else.
    """
    if not _active() and "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        if backend is None:
            backend = "nccl" if arch in ("auto", "cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if arch != "cuda" and "cpu_max_num_threads" not in ti_kwargs:
        ti_kwargs["cpu_max_num_threads"] = threads if threads is not None else rank_threads()
    init(arch, **ti_kwargs)
    return _place()


def destroy_process_group() -> None:
    """End this rank's part in the process group: wait for every rank (so none exits while
    another still talks to it), then release torch's process group. Call it once at the end of
    a script launched by torchrun; without a process group it does nothing."""
    if _active():
        dist.barrier()
        dist.destroy_process_group()


def render_seed(step: int, view: int, num_views: int) -> int:
    """The render seed of `view` (of `num_views`) at optimization `step`: step * num_views + view,
    the same on every rank count (so 1 and N ranks draw the same noise for a view)."""
    return int(step) * int(num_views) + int(view)


class ViewSampler:
    """Which views each rank renders at each step: deterministic by seed, the same global set
    of views per step on any number of ranks, split evenly.

    The views are visited epoch by epoch; an epoch is a permutation of ``range(num_views)``
    drawn from (seed, epoch) (or the identity with ``shuffle=False``). Step s covers
    `views_per_step` consecutive entries of the concatenated epochs, and rank r takes its
    slice of them.

    Args:
        num_views: number of views (sensors, or sub-sensors of a scene per view) (>= 1).
        views_per_step: views per optimization step over all ranks; default `num_views` (every
            view every step). Must be a multiple of the number of ranks, so that each rank's
            mean loss weighs its views as the global mean does.
        seed: seed of the epoch permutations (int).
        shuffle: permute each epoch (default True).
        rank, world_size: this process's place; default: the process group's (0, 1 without).

    Example::

        sampler = trt.distributed.ViewSampler(len(views), views_per_step=4, seed=0)
        for step in range(steps):
            for v in sampler.views(step):
                image = trt.render(scene, params, sensor=v, seed=sampler.render_seed(step, v), **values)
    """

    def __init__(self, num_views: int, views_per_step: int | None = None, seed: int = 0, shuffle: bool = True,
                 rank: int | None = None, world_size: int | None = None):
        self.num_views = int(num_views)
        if self.num_views < 1:
            raise ValueError(f"num_views must be >= 1, got {num_views}")
        self.views_per_step = self.num_views if views_per_step is None else int(views_per_step)
        group_rank, group_size = _place()
        self.world_size = group_size if world_size is None else int(world_size)
        self.rank = group_rank if rank is None else int(rank)
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in range for world_size {self.world_size}")
        if self.views_per_step < 1:
            raise ValueError(f"views_per_step must be >= 1, got {views_per_step}")
        if self.views_per_step % self.world_size:
            raise ValueError(f"views_per_step ({self.views_per_step}) must be a multiple of the number of ranks "
                             f"({self.world_size}): each rank renders the same number of views")
        self.seed, self.shuffle = int(seed), bool(shuffle)

    @property
    def views_per_rank(self) -> int:
        return self.views_per_step // self.world_size

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The views of `epoch` in visiting order, (num_views,) int64."""
        if not self.shuffle:
            return np.arange(self.num_views)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(self.num_views)

    def global_views(self, step: int) -> list[int]:
        """The views of `step` over all ranks (views_per_step of them, rank by rank)."""
        start = int(step) * self.views_per_step
        first_epoch, last_epoch = start // self.num_views, (start + self.views_per_step - 1) // self.num_views
        order = np.concatenate([self.epoch_order(e) for e in range(first_epoch, last_epoch + 1)])
        offset = start - first_epoch * self.num_views
        return [int(v) for v in order[offset:offset + self.views_per_step]]

    def views(self, step: int) -> list[int]:
        """This rank's views at `step` (views_per_rank of them)."""
        share = self.views_per_rank
        return self.global_views(step)[self.rank * share:(self.rank + 1) * share]

    def epoch(self, step: int) -> int:
        """The epoch `step` starts in."""
        return int(step) * self.views_per_step // self.num_views

    def render_seed(self, step: int, view: int) -> int:
        """Render seed of `view` at `step`: the module's `render_seed`."""
        return render_seed(step, view, self.num_views)

    def __len__(self) -> int:
        """Steps per epoch (rounded up)."""
        return math.ceil(self.num_views / self.views_per_step)

    def __repr__(self) -> str:
        return (f"ViewSampler(num_views={self.num_views}, views_per_step={self.views_per_step}, seed={self.seed}, "
                f"rank={self.rank}, world_size={self.world_size})")


def _check_op(op: str) -> None:
    if op not in ("mean", "sum"):
        raise ValueError(f"op must be 'mean' or 'sum', got {op!r}")


def _gradient_source(source, keys):
    """(keys, read(key) -> np.ndarray) for an optimizer or scene parameters."""
    if isinstance(source, Optimizer):
        return list(source.variables) if keys is None else list(keys), source.gradient
    if isinstance(source, SceneParameters):
        return source.grad_enabled() if keys is None else list(keys), source.grad
    raise TypeError(f"all_reduce_gradients takes an optimizer or scene parameters, got {type(source).__name__}")


def all_reduce_gradients(source, keys=None, gradients: dict | None = None, op: str = "mean") -> dict:
    """The gradients of the last ``ti.ad.Tape``, summed or averaged over the ranks.

    One ``all_reduce`` of all keys packed into one float32 tensor. Call it on every rank, at
    the same point of the loop, with the same keys.

    Args:
        source: a ``tr.ad.Optimizer`` (keys: its variables, read with ``opt.gradient``) or
            ``tr.traverse`` parameters (keys: ``params.grad_enabled()``, read with
            ``params.grad``).
        keys: the keys to reduce (default: as above), in the same order on every rank.
        gradients: ``{key: gradient}`` for keys whose gradients come from elsewhere (torch,
            e.g. the differential form of ``LargeSteps``); numpy or torch, shaped like the value.
        op: ``"mean"`` (default: with each rank's loss the mean over its views, the gradient
            of the mean over all views) or ``"sum"``.
    Returns:
        ``{key: np.ndarray}`` float32 shaped like each key's gradient, the same on every rank;
        pass it to ``opt.step(gradients=...)``. Without a process group the local gradients.
    """
    _check_op(op)  # also when there is nothing to reduce
    keys, read = _gradient_source(source, keys)
    given = dict(gradients or {})
    local = {}
    for key in keys:
        g = given[key] if key in given else read(key)
        if isinstance(g, torch.Tensor):
            g = g.detach().cpu().numpy()
        local[key] = np.asarray(g, np.float32)
    if not local:
        return local
    flat = all_reduce(np.concatenate([g.ravel() for g in local.values()]), op)
    out, offset = {}, 0
    for key, g in local.items():
        out[key] = flat[offset:offset + g.size].reshape(g.shape)
        offset += g.size
    return out


def all_reduce(value, op: str = "sum") -> np.ndarray:
    """`value` (a number, numpy array or torch tensor) summed or averaged over the ranks.

    Call it on every rank with the same shape (e.g. a loss or a metric for logging).
    Args:
        value: the local value, any shape.
        op: ``"sum"`` (default) or ``"mean"``.
    Returns:
        float32 numpy array of the value's shape, the same on every rank (the local value
        without a process group).
    """
    _check_op(op)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    local = np.array(value, np.float32)
    if not _active():
        return local
    flat = torch.from_numpy(local.reshape(-1)).to("cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    if op == "mean":
        flat /= dist.get_world_size()
    return flat.cpu().numpy().reshape(local.shape)
