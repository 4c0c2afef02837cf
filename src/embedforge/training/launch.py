"""Launching training on several processes with torch's own launcher, and what each launched process needs to know.

``embedforge train RECIPE --nproc N`` calls :func:`run_torchrun`, which is ``torchrun --standalone
--nproc_per_node N -m embedforge train RECIPE`` through torch's API (``torch.distributed.run``): no home-made
launcher. Each started process reads its rank from the variables torchrun sets (:func:`launched_rank`), and the
processes agree on when to stop after a signal (:func:`agreed_signal`). Only torch and the standard library are
imported here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import torch
import torch.distributed as dist

__all__ = ["agreed_signal", "is_launched", "launched_rank", "run_torchrun", "sum_over_ranks", "torchrun_arguments"]


def launched_rank() -> int:
    """This process's global rank as set by torchrun / accelerate launch (``RANK``); 0 when not launched."""
    return int(os.environ.get("RANK", "0"))


def is_launched() -> bool:
    """Whether a launcher started this process as one of several (``WORLD_SIZE`` above 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def torchrun_arguments(nproc: int, command: Sequence[str]) -> list[str]:
    """The torchrun command line starting ``python -m embedforge <command>`` on ``nproc`` local processes.

    ``--standalone`` runs the rendezvous on this machine on a free port, so several runs can share a machine.

    Args:
        nproc: Processes to start (one per GPU, or any number on CPU).
        command: The embedforge command line after ``embedforge`` (e.g. ``["train", "recipe.yaml"]``).

    Returns:
        The arguments of ``python -m torch.distributed.run``.
    """
    return ["--standalone", "--nproc_per_node", str(nproc), "--module", "embedforge", *command]


def run_torchrun(nproc: int, command: Sequence[str]) -> int:
    """Run ``embedforge <command>`` on ``nproc`` processes with torchrun and return the exit status.

    Args:
        nproc: Processes to start.
        command: The embedforge command line after ``embedforge``.

    Returns:
        0 when every process succeeded; the first failed process's exit status; ``128 + signal`` when the launcher
        itself was interrupted (it passes the signal on to every process, which stop cleanly).
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    try:
        run(get_args_parser().parse_args(torchrun_arguments(nproc, command)))
    except ChildFailedError as error:
        print(error.format_msg(), file=sys.stderr, flush=True)
        _, failure = error.get_first_failure()
        return failure.exitcode if failure.exitcode > 0 else 1
    except SignalException as error:
        return 128 + int(error.sigval)
    return 0


def agreed_signal(received: int | None, device: torch.device | str = "cpu") -> int | None:
    """The signal that asks every process to stop, once any process has received one.

    Under DDP every rank must stop after the same step (a rank that stopped alone would leave the others waiting
    in their next gradient exchange), so each step end the ranks share what they received. One process: returns
    ``received`` as is.

    Args:
        received: The signal number this process received, or None.
        device: Where the exchanged tensor lives (the training device: NCCL exchanges CUDA tensors only).

    Returns:
        The highest signal number any rank received, or None when none did.
    """
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return received
    flag = torch.tensor([received or 0], dtype=torch.int64, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item()) or None


def sum_over_ranks(counts: Sequence[int], device: torch.device | str = "cpu") -> list[int]:
    """Each count summed over every rank (call it on every rank); ``counts`` as is with one process.

    Args:
        counts: This rank's counts (e.g. samples and tokens it trained on).
        device: Where the exchanged tensor lives (the training device: NCCL exchanges CUDA tensors only).

    Returns:
        The totals, in the order of ``counts``.
    """
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return list(counts)
    totals = torch.tensor(list(counts), dtype=torch.int64, device=device)
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    return [int(value) for value in totals.tolist()]
