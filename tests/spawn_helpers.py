"""Running test workers on 2 processes (torch.distributed, gloo) without risking a hung test run.

- :func:`run_ranks` is ``torch.multiprocessing.spawn`` with a deadline: a rank that waits forever for another
  (a collective the other never reaches) fails the test instead of hanging the whole run.
- :func:`exit_rank` ends a worker that trained with DistributedDataParallel as soon as its results are on disk.
  On torch 2.13 a DDP ``Reducer`` freed at the end of the process destroys its gloo process group, whose destructor
  joins gloo's threads while holding the GIL; a gloo thread still releasing a tensor waits for the GIL, so the
  worker can hang at exit (seen under load: ``~ProcessGroupGloo`` -> ``std::thread::join`` in the main thread,
  ``gil_scoped_acquire`` in the gloo thread). The worker's results are already saved, so it skips that teardown.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import torch.multiprocessing as mp

__all__ = ["exit_rank", "free_port", "leave_group", "run_ranks"]


def free_port() -> int:
    """A TCP port that is free now (bound to port 0, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_ranks(worker: Callable[..., None], args: tuple[Any, ...], nprocs: int = 2, timeout: float = 300.0) -> None:
    """Run ``worker(rank, *args)`` on ``nprocs`` fresh processes; raise if one fails or they outlive ``timeout`` s."""
    context = mp.spawn(worker, args=args, nprocs=nprocs, join=False)
    deadline = time.monotonic() + timeout
    while not context.join(timeout=2):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            raise TimeoutError(f"the {nprocs} worker processes did not finish in {timeout:.0f} s (a rank waiting?)")


def exit_rank() -> None:
    """End this worker process now with exit code 0 (its results must already be written; see the module doc)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def leave_group() -> None:
    """Wait until every rank of the process group has written its results, then :func:`exit_rank`.

    The group is not destroyed: its teardown is what can hang or abort a worker on torch 2.13 (see the module doc).
    """
    import torch.distributed as dist

    dist.barrier()
    exit_rank()
