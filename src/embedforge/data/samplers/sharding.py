"""Batches laid out for accelerate's per-process sharding, so that every training step is the same on every rank.

Under DDP or FSDP the trainer's dataloader is prepared by accelerate (``even_batches=False``, the
``split_batches=False`` default): process ``r`` takes batches ``r, r + W, r + 2W, …`` of the batch sampler, ``W``
being the number of processes. So the ``W`` consecutive batches ``[kW, (k + 1)W)`` are the per-device batches of
step ``k``: together they form the *global batch* of that step. accelerate yields a step only when its last
batch is full, and after the loop yields each process's leftover batch if it has one. A batch sampler that
ignores this (as sentence-transformers' samplers do) lets an odd last batch reach only some ranks (the others
then wait forever in the gradient all-reduce), and drops rows when a step holds a short batch mid-epoch.

With ``W > 1`` the samplers therefore yield whole steps (groups of ``W`` batches):

* every step but the last holds ``W`` full batches of ``batch_size`` rows (for single-dataset samplers these are
  the very batches one process would yield, so the order of the epoch is unchanged);
* the rows left over at the end of the epoch (fewer than ``W * batch_size``) form one last step of ``W`` batches
  of equal size ``R // W`` when ``drop_last`` is False (the ``R % W`` rows beyond that are dropped, as are
  all leftover rows when ``drop_last`` is True or the equal share would be empty). Nothing is padded: no row
  is used twice in an epoch.

Equal per-device sizes also keep ``gather_across_devices`` losses valid: their all-gather needs the same number of
rows on every rank.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch.distributed as dist

__all__ = ["full_steps", "resolve_num_processes", "sharded_length", "split_rows", "steps_of", "whole_steps"]


def resolve_num_processes(num_processes: int | None) -> int:
    """The number of processes a sampler lays its batches out for.

    Args:
        num_processes: An explicit count, or None for the size of the initialized ``torch.distributed`` default
            group (1 when there is none), which is how many shards accelerate makes of the dataloader.

    Returns:
        A positive process count.

    Raises:
        ValueError: If ``num_processes`` is given and below 1.
    """
    if num_processes is None:
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    if num_processes < 1:
        raise ValueError(f"num_processes must be at least 1, got {num_processes}. Use None to read it from torch.")
    return num_processes


def steps_of(batches: Iterable[list[int]], num_processes: int) -> Iterator[list[list[int]]]:
    """Group consecutive batches into steps of ``num_processes`` batches (the last group may hold fewer).

    Args:
        batches: Per-device batches of row indices.
        num_processes: Batches per step.

    Yields:
        Lists of up to ``num_processes`` batches.
    """
    group: list[list[int]] = []
    for batch in batches:
        group.append(batch)
        if len(group) == num_processes:
            yield group
            group = []
    if group:
        yield group


def split_rows(rows: list[int], parts: int, multiple: int = 1, min_size: int = 1) -> list[list[int]]:
    """Cut ``rows`` into ``parts`` consecutive batches of equal size, dropping the rows that do not fit.

    Args:
        rows: The leftover rows of an epoch, in order.
        parts: The number of batches (processes).
        multiple: Each batch's size is rounded down to a multiple of this (2 keeps same-label pairs whole).
        min_size: The smallest useful batch; below it nothing is returned.

    Returns:
        ``parts`` batches of ``size`` rows each, ``size = len(rows) // parts`` rounded down to ``multiple``; an
        empty list when ``size < max(min_size, 1)``.
    """
    size = len(rows) // parts // multiple * multiple
    if size < max(min_size, 1):
        return []
    return [rows[part * size : (part + 1) * size] for part in range(parts)]


def whole_steps(
    steps: Iterable[list[list[int]]],
    num_processes: int,
    batch_size: int,
    keep_tail: bool,
    multiple: int = 1,
    min_size: int = 1,
    accept: Callable[[list[int]], bool] | None = None,
) -> Iterator[list[int]]:
    """Yield the batches of full steps, then (if ``keep_tail``) one last step built from the leftover rows.

    The first step that is not ``num_processes`` full batches ends the epoch: its rows are the leftover rows,
    cut by :func:`split_rows`; the steps after it (only samplers that cannot fill a batch produce them) are
    dropped.

    Args:
        steps: Groups of per-device batches, one group per step.
        num_processes: Batches per step.
        batch_size: Rows of a full per-device batch.
        keep_tail: Yield the last, smaller step (``not drop_last``).
        multiple: See :func:`split_rows`.
        min_size: See :func:`split_rows`.
        accept: The leftover step is dropped unless this accepts each of its batches (None accepts all).

    Yields:
        Per-device batches; their count is a multiple of ``num_processes``.
    """
    for step in steps:
        if len(step) == num_processes and all(len(batch) == batch_size for batch in step):
            yield from step
            continue
        if keep_tail:
            tail = split_rows([row for batch in step for row in batch], num_processes, multiple, min_size)
            if accept is None or all(accept(batch) for batch in tail):
                yield from tail
        return


def full_steps(batches: Iterable[list[int]], num_processes: int, batch_size: int) -> Iterator[list[list[int]]]:
    """The steps of ``num_processes`` full batches, up to the first step that is not full.

    Args:
        batches: Per-device batches of one dataset.
        num_processes: Batches per step.
        batch_size: Rows of a full batch.

    Yields:
        Lists of ``num_processes`` batches of ``batch_size`` rows.
    """
    for step in steps_of(batches, num_processes):
        if len(step) < num_processes or any(len(batch) != batch_size for batch in step):
            return
        yield step


def sharded_length(
    num_rows: int,
    num_processes: int,
    batch_size: int,
    keep_tail: bool,
    multiple: int = 1,
    min_size: int = 1,
) -> int:
    """The number of per-device batches :func:`whole_steps` yields for a stream of ``num_rows`` rows.

    Args:
        num_rows: Rows the sampler places in batches over one epoch.
        num_processes: Batches per step.
        batch_size: Rows of a full per-device batch.
        keep_tail: Whether the leftover step is kept.
        multiple: See :func:`split_rows`.
        min_size: See :func:`split_rows`.

    Returns:
        A multiple of ``num_processes``.
    """
    steps, rest = divmod(num_rows, num_processes * batch_size)
    tail = keep_tail and rest // num_processes // multiple * multiple >= max(min_size, 1)
    return (steps + int(tail)) * num_processes
