"""Training across processes with torch.distributed, as started by torchrun (DistributedDataParallel).

    torchrun --nproc-per-node K -m cneep_engine train movie.tif -o run

Every rank holds the whole movie and draws the same global batch of --batch windows from the same
generator, then trains on its own 1/K slice of it; DDP averages the gradients, so each step is the step a
single process takes on the whole batch, and the summary is the single-process one up to float rounding.
Every rank validates on the same fixed subset; rank 0's keep/stop decisions are broadcast all the same, so
that rounding differences between ranks can never make them part ways. Only rank 0 reports and writes files.
Without torchrun (WORLD_SIZE unset or 1) nothing here does anything.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .errors import CneepError


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_device(device: torch.device) -> torch.device:
    """The device of this rank: its own GPU (LOCAL_RANK) when training on CUDA."""
    if world_size() > 1 and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


@contextmanager
def session(device: torch.device):
    """The process group for a run under torchrun (gloo on the CPU, nccl on CUDA), torn down at the end.

    A group the caller initialised already is used and left alone."""
    if world_size() <= 1 or dist.is_initialized():
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend)
    try:
        yield
    finally:
        dist.destroy_process_group()


def check_batch(batch: int) -> None:
    k = world_size()
    if k > 1 and batch % k:
        raise CneepError(f"--batch {batch} must be a multiple of the {k} processes, so every rank trains on "
                         f"an equal share")


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module a training step calls: DDP around the model across ranks, the model itself otherwise."""
    if not active():
        return model
    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous slice of a global batch drawn identically on every rank."""
    if not active():
        return batch
    return batch.chunk(dist.get_world_size())[dist.get_rank()]


def mean(value: torch.Tensor) -> torch.Tensor:
    """Average of a scalar over the ranks (the batch mean of the global batch, as shards are equal)."""
    if not active():
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / dist.get_world_size()


def agree(*flags: bool) -> list[bool]:
    """Rank 0's flags on every rank."""
    if not active():
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=_collective_device())
    dist.broadcast(t, 0)
    return [bool(v) for v in t.tolist()]


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on any (a cancel seen by one rank stops all)."""
    if not active():
        return flag
    t = torch.tensor([float(flag)], device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
