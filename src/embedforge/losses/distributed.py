"""torch.distributed helpers for losses that share in-batch negatives across processes.

Every function degrades gracefully when torch.distributed is not initialized: the rank is 0, the world size is 1,
and a gather returns the local tensor unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["all_gather", "all_gather_with_grad", "get_rank", "get_world_size", "is_distributed"]

logger = logging.getLogger(__name__)

_warned_not_distributed = False


def is_distributed() -> bool:
    """True when torch.distributed is available and a process group is initialized."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """The rank of this process in the default group, or 0 when not distributed."""
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """The number of processes in the default group, or 1 when not distributed."""
    return dist.get_world_size() if is_distributed() else 1


def all_gather(tensor: Tensor, with_grad: bool = False) -> Tensor:
    """Concatenate ``tensor`` from every rank along the first dimension, in rank order.

    The local slice of the result always keeps its autograd history. With ``with_grad=True`` the whole result
    does: the backward pass sends each rank the sum, over all ranks, of the gradients that reached its slice, so a
    loss computed on gathered embeddings trains every rank's encoder (as sentence-transformers'
    ``all_gather_with_grad`` does). Every rank must pass a tensor of the same shape.

    Args:
        tensor: ``(batch, ...)`` tensor of this rank.
        with_grad: Whether gradients flow back to the other ranks' slices.

    Returns:
        ``(world_size * batch, ...)`` tensor, rank ``r``'s rows at ``[r * batch, (r + 1) * batch)``; ``tensor``
        itself when torch.distributed is not initialized (a warning is logged once).
    """
    if not is_distributed():
        _warn_not_distributed()
        return tensor
    if with_grad:
        return _AllGatherWithGrad.apply(tensor)
    gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor.contiguous())
    gathered[dist.get_rank()] = tensor
    return torch.cat(gathered, dim=0)


def all_gather_with_grad(tensor: Tensor) -> Tensor:
    """:func:`all_gather` with gradients flowing to every rank's slice.

    Args:
        tensor: ``(batch, ...)`` tensor of this rank.

    Returns:
        ``(world_size * batch, ...)`` tensor; ``tensor`` itself when not distributed.
    """
    return all_gather(tensor, with_grad=True)


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the incoming gradients over ranks and keeps this rank's slice."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        """Gather ``(batch, ...)`` from every rank into ``(world_size * batch, ...)``."""
        ctx.rank, ctx.batch = dist.get_rank(), tensor.size(0)
        gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, tensor.contiguous())
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        """Sum ``(world_size * batch, ...)`` gradients over ranks and return this rank's ``(batch, ...)`` rows."""
        grad_output = grad_output.contiguous()
        if dist.get_backend() == dist.Backend.NCCL:
            local = grad_output.new_empty((ctx.batch, *grad_output.shape[1:]))
            dist.reduce_scatter_tensor(local, grad_output)
            return local
        summed = grad_output.clone()
        dist.all_reduce(summed)
        return summed[ctx.rank * ctx.batch : (ctx.rank + 1) * ctx.batch]


def _warn_not_distributed() -> None:
    """Log once that a gather was asked for outside torch.distributed."""
    global _warned_not_distributed  # noqa: PLW0603 - a once-per-process flag
    if not _warned_not_distributed:
        _warned_not_distributed = True
        logger.warning(
            "gather_across_devices=True but torch.distributed is not initialized, so only this process's "
            "embeddings are used. This is expected on a single device; set gather_across_devices=False to "
            "silence this warning."
        )
