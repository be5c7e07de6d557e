"""Data-parallel training under torchrun: gloo on CPUs, NCCL on CUDA, plain when alone.

``torchrun --nproc_per_node N -m training.train --recipe ...`` sets WORLD_SIZE, RANK and the
rendezvous; without them nothing here touches torch.distributed, so a single-process run
behaves exactly as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Only the main rank logs, validates and writes checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup() -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Context(rank=dist.get_rank(), world=dist.get_world_size())


def wrap(model: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    """DDP averages gradients across ranks during backward; its constructor syncs weights."""
    return DistributedDataParallel(model) if ctx.active else model


def any_rank(flag: bool, ctx: Context) -> bool:
    """True when any rank says so: ranks must stop at the same step or they deadlock."""
    if not ctx.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def agree(value: float, ctx: Context) -> float:
    """The largest of the ranks' values, so that every rank acts on the same number."""
    if not ctx.active:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def digest(model: torch.nn.Module) -> str:
    """A short fingerprint of the weights, to check that ranks hold the same model."""
    total = sum(float(p.detach().double().mul(i + 1).sum()) for i, p in
                enumerate(model.parameters()))
    return f"{total:.12e}"


def teardown(ctx: Context) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()
