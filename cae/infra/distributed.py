"""Several processes, one training run (torchrun): process group, gather, global BatchNorm.

`torchrun --standalone --nproc_per_node=N -m cae train ...` starts N copies of `cae`; each
joins the process group that torchrun describes in RANK, WORLD_SIZE and LOCAL_RANK (gloo
on the CPU, NCCL on CUDA). The batch is global: each process takes its 1/N of every
batch, `gather` lets every process's NT-Xent see all 2 x batch views (`cae.method.losses`), and
BatchNorm statistics are those of the global batch, so one step equals one process on
the whole batch (tests/test_distributed.py). In one process every function here is the
identity or a plain call.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cae.errors import CaeError

T = TypeVar("T")
M = TypeVar("M", bound=nn.Module)
_WRAPPED: dict[nn.Module, DistributedDataParallel] = {}  # one DDP wrapper per trained module


def launched() -> bool:
    """True when torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Within the block, this process is one rank of torchrun's process group: gloo on
    the CPU, NCCL on CUDA with each process on GPU LOCAL_RANK. Without torchrun, nothing."""
    if not launched():
        yield
        return
    if device.type == "cuda":
        if device.index is not None:
            raise CaeError(f"under torchrun each process uses the GPU of its LOCAL_RANK; pass "
                           f"--device cuda (or auto), not {device}")
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        _WRAPPED.clear()
        dist.destroy_process_group()


def world_size() -> int:
    """Number of processes training together (1 without torchrun)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def check_global_batch(batch_size: int) -> None:
    """Refuse (one line) a global batch that the processes cannot share equally; checked
    before the run directory is written."""
    if batch_size % world_size():
        raise CaeError(f"batch_size {batch_size} is the global batch, split over "
                       f"{world_size()} processes; make it a multiple of {world_size()}")


def rank() -> int:
    """This process's rank (0 without torchrun)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """True in the process that writes files and runs KMeans: rank 0."""
    return rank() == 0


def backend() -> str | None:
    """The process group's backend (gloo or nccl), None without torchrun."""
    return str(dist.get_backend()) if dist.is_initialized() else None


class _GatherSummingGrads(torch.autograd.Function):
    """all_gather forward; backward all-reduces (sums) the gradient of the gathered rows
    and returns this rank's slice: each row's gradient from every process's loss."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        n = len(grad) // dist.get_world_size()
        return grad[dist.get_rank() * n:(dist.get_rank() + 1) * n]


def gather(x: torch.Tensor) -> torch.Tensor:
    """Every process's rows of x (same shape in each), in rank order; in backward each
    process's rows receive the sum of all processes' gradients. x itself in one process."""
    return _GatherSummingGrads.apply(x) if world_size() > 1 else x


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This process's rows of a global batch: the rank-th of world_size equal slices."""
    n = len(batch) // world_size()
    return batch[rank() * n:(rank() + 1) * n]


def average(t: torch.Tensor) -> torch.Tensor:
    """The mean of t over processes (t itself in one process)."""
    if world_size() == 1:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / world_size()


def from_main(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) computed in process 0 and sent to every process (a plain call in one
    process); a CaeError raised there is raised in every process."""
    if world_size() == 1:
        return fn(*args)
    box: list[Any] = [None]
    if is_main():
        try:
            box = [(fn(*args), None)]
        except CaeError as exc:
            box = [(None, str(exc))]
    dist.broadcast_object_list(box, src=0)
    result, error = box[0]
    if error is not None:
        raise CaeError(error)
    return result


def augmentation_generator(g: torch.Generator, seed: int, epoch: int) -> torch.Generator:
    """Where an epoch's augmentations come from: g itself in one process (one stream for
    order and views, as always); under torchrun a stream seeded by (seed, rank, epoch), so
    processes draw different views and a resumed run draws the same ones again."""
    if world_size() == 1:
        return g
    stream = int(np.random.SeedSequence([seed, rank(), epoch]).generate_state(1)[0])
    return torch.Generator(device=g.device).manual_seed(stream)


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d with the statistics of the global batch: every process's rows gathered,
    normalised as one batch by the same `F.batch_norm`, this process's rows returned.

    torch's SyncBatchNorm does the same job but refuses CPU tensors, so it could not be
    proven equal to one process on gloo in CI; this one runs on gloo and NCCL alike.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and world_size() > 1):
            return super().forward(x)
        return shard(super().forward(gather(x)))


def global_batchnorm(module: nn.Module) -> nn.Module:
    """Turn module's BatchNorm1d layers into GlobalBatchNorm1d in place, keeping their
    parameter and buffer tensors (optimizers and state_dict keys are unchanged)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            synced = GlobalBatchNorm1d(child.num_features, child.eps, child.momentum,
                                       child.affine, child.track_running_stats)
            synced.weight, synced.bias = child.weight, child.bias
            synced.running_mean, synced.running_var = child.running_mean, child.running_var
            synced.num_batches_tracked = child.num_batches_tracked
            synced.train(child.training)
            setattr(module, name, synced)
        else:
            global_batchnorm(child)
    return module


def ddp(module: M) -> M:
    """module as a training step calls it: itself in one process; under torchrun wrapped
    (once) in DistributedDataParallel, which averages its gradients over processes, with
    its BatchNorm layers on global-batch statistics. Typed as the module it stands in for:
    a step only calls it, and the wrapper's call is the module's."""
    if world_size() == 1:
        return module
    if module not in _WRAPPED:
        _WRAPPED[module] = DistributedDataParallel(global_batchnorm(module))
    return cast(M, _WRAPPED[module])
