"""Helpers for ``torch.distributed`` that fall back to single-process behaviour when no process group exists.

At the path sentence-transformers names ``util.distributed``. Losses that share in-batch negatives across GPUs
gather embeddings with :func:`all_gather` / :func:`all_gather_with_grad`; multi-vector losses, whose token axis
differs between ranks, use :func:`all_gather_padded`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.distributed as dist

from embedforge.util.environment import is_dist_initialized
from embedforge.util.logging import warn_once
from embedforge.util.misc import disable_logging

__all__ = [
    "all_gather",
    "all_gather_padded",
    "all_gather_with_grad",
    "distributed_evaluation",
    "get_rank",
    "get_world_size",
]

logger = logging.getLogger(__name__)


def get_rank() -> int:
    """This process's rank in the default process group; 0 without one."""
    return dist.get_rank() if is_dist_initialized() else 0


def get_world_size() -> int:
    """The number of processes in the default process group; 1 without one."""
    return dist.get_world_size() if is_dist_initialized() else 1


def all_gather(tensor: torch.Tensor, with_grad: bool = False) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along the first dimension.

    The local rank's slice is always ``tensor`` itself, so gradients flow into it. With ``with_grad`` the gather
    is differentiable: gradients on other ranks' slices are sent back to those ranks.

    Args:
        tensor: Shape ``(n, ...)``, the same shape on every rank.
        with_grad: Whether gradients flow through the gathered slices of the other ranks too.

    Returns:
        Shape ``(world_size * n, ...)``, rank ``r``'s tensor at rows ``r * n`` to ``(r + 1) * n``. Without an
        initialized process group: ``tensor`` itself (with a one-time warning).
    """
    if not is_dist_initialized():
        warn_once(
            logger,
            "all_gather was called while torch.distributed is unavailable or not initialized, so the local tensor "
            "is returned as is. That is expected on a single device; to silence this, do not gather there.",
        )
        return tensor
    if with_grad:
        from torch.distributed.nn.functional import all_gather as differentiable_all_gather

        return torch.cat(differentiable_all_gather(tensor), dim=0)
    gathered = [torch.zeros_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor)
    gathered[dist.get_rank()] = tensor
    return torch.cat(gathered, dim=0)


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """:func:`all_gather` with gradients flowing through every rank's slice.

    Args:
        tensor: Shape ``(n, ...)``, the same shape on every rank.

    Returns:
        Shape ``(world_size * n, ...)``; ``tensor`` itself without an initialized process group.
    """
    return all_gather(tensor, with_grad=True)


def all_gather_padded(
    tensor: torch.Tensor, mask: torch.Tensor, with_grad: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather token embeddings and their mask from every rank, first padding the token axis to the widest rank.

    Args:
        tensor: Token embeddings of shape ``(B, T, D)``; ``T`` may differ between ranks, ``B`` may not.
        mask: Token mask of shape ``(B, T)``; padding added here is zero/False.
        with_grad: Whether gradients flow through other ranks' embeddings (see :func:`all_gather`). The mask
            never carries gradients.

    Returns:
        Embeddings of shape ``(world_size * B, T_max, D)`` and mask of shape ``(world_size * B, T_max)``. Without
        an initialized process group: the inputs unchanged.
    """
    if is_dist_initialized():
        width = torch.tensor(tensor.size(1), device=tensor.device)
        dist.all_reduce(width, op=dist.ReduceOp.MAX)
        missing = int(width.item()) - tensor.size(1)
        if missing > 0:
            tensor = torch.nn.functional.pad(tensor, (0, 0, 0, missing))
            mask = torch.nn.functional.pad(mask, (0, missing))
    return all_gather(tensor, with_grad=with_grad), all_gather(mask)


@contextmanager
def distributed_evaluation(model: Any, enabled: bool = True) -> Iterator[bool]:
    """Run an evaluator on the main process only, the other ranks sharing its encoding; say whether to run it.

    Without a process group, with one process, or with ``enabled=False``, every rank yields True. Otherwise rank 0
    yields True and the other ranks yield False once rank 0 has finished its block. Meanwhile they serve rank 0's
    work: inside the block, ``model``'s work (``encode`` / ``predict`` chunks) is routed to a
    :class:`~embedforge.model.multi_process.DistributedPool` (:func:`~embedforge.model.multi_process.active_pool`
    returns it), which gives each rank one contiguous share to process with its own replica, as
    sentence-transformers' ``_DistributedInference`` does. ``model=None`` shares nothing: the other ranks just
    wait. Ranks other than 0 log only warnings and above inside the block.

    Args:
        model: The model being evaluated (the same weights on every rank), or None.
        enabled: False makes every rank run the evaluator (e.g. a sharded model that every rank must run).

    Yields:
        Whether this rank should run the evaluator.

    Raises:
        RuntimeError: On the other ranks, if rank 0's block failed (with its traceback); on rank 0, if a rank
            failed while processing its share.
    """
    is_main = get_rank() == 0
    with nullcontext() if is_main else disable_logging(logging.INFO):
        if not enabled or get_world_size() == 1:
            yield True
            return
        if model is None:
            if not is_main:
                dist.barrier()
                yield False
                return
            try:
                yield True
            finally:
                dist.barrier()
            return
        from embedforge.model.multi_process import DistributedPool, using_pool

        pool = DistributedPool(model)
        if not is_main:
            pool.serve()
            yield False
            return
        error = None
        try:
            with using_pool(model, pool):
                yield True
        except BaseException:
            error = traceback.format_exc()
            raise
        finally:
            pool.stop(error)
