"""Run a model's work in several worker processes (one per device), as ``start_multi_process_pool`` does in ST.

The work is the model family's :meth:`~embedforge.model.base.BaseModel.run_chunk`: embedding texts for a
SentenceTransformer, scoring pairs for a CrossEncoder. Each task carries the call's options (a frozen dataclass with
``device`` and ``show_progress_bar`` fields), which the worker points at its own device.

:class:`DistributedPool` offers the same ``run`` over the ranks of a torch.distributed job (DDP evaluation), and
:func:`using_pool` / :func:`active_pool` route a model's work to a pool for the length of a block.
"""

from __future__ import annotations

import logging
import math
import queue
import traceback
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from embedforge.model.base import BaseModel

logger = logging.getLogger(__name__)

DEFAULT_CPU_WORKERS = 4
POLL_INTERVAL_S = 1.0


def default_devices() -> list[str]:
    """All CUDA devices, else ``DEFAULT_CPU_WORKERS`` CPU workers."""
    if torch.cuda.is_available():
        return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    return ["cpu"] * DEFAULT_CPU_WORKERS


def _worker(device: str, model: BaseModel, inputs: Any, outputs: Any) -> None:
    """Worker loop: run each ``(chunk_id, inputs, options)`` task on ``device`` until a None task arrives."""
    model.to(device)
    if device == "cpu":
        torch.set_num_threads(1)
    while True:
        task = inputs.get()
        if task is None:
            return
        chunk_id, chunk, options = task
        result = model.run_chunk(chunk, replace(options, device=torch.device(device), show_progress_bar=False))
        if isinstance(result, Tensor):
            result = result.cpu()
        outputs.put((chunk_id, result))


@dataclass
class MultiProcessPool:
    """Worker processes sharing an input and an output queue.

    Attributes:
        processes: The worker processes.
        input_queue: Tasks ``(chunk_id, inputs, options)``.
        output_queue: Results ``(chunk_id, result)``.
    """

    processes: list[BaseProcess]
    input_queue: Any
    output_queue: Any

    def __getitem__(self, key: str) -> Any:
        """Dict-style access (``pool["processes"]``) as in sentence-transformers."""
        return {"processes": self.processes, "input": self.input_queue, "output": self.output_queue}[key]

    def run(self, inputs: list[Any], options: Any, chunk_size: int | None = None) -> Tensor | list[Any]:
        """Split ``inputs`` into chunks, process them in the workers and return the results in input order.

        Args:
            inputs: Texts (SentenceTransformer) or text pairs (CrossEncoder).
            options: The call's options, passed to ``run_chunk`` with the worker's device.
            chunk_size: Inputs per task; default about a tenth of each worker's share, at most 5,000.

        Returns:
            The chunks' tensors concatenated (rows), or their lists joined.
        """
        if not inputs:
            return torch.empty(0)
        if chunk_size is None:
            chunk_size = min(math.ceil(len(inputs) / len(self.processes) / 10), 5000)
        chunk_size = max(chunk_size, 1)
        starts = range(0, len(inputs), chunk_size)
        for chunk_id, start in enumerate(starts):
            self.input_queue.put((chunk_id, inputs[start : start + chunk_size], options))
        results: dict[int, Any] = {}
        while len(results) < len(starts):
            try:
                chunk_id, result = self.output_queue.get(timeout=POLL_INTERVAL_S)
            except queue.Empty:
                self._check_workers()
                continue
            results[chunk_id] = result
        ordered = [results[index] for index in range(len(starts))]
        if isinstance(ordered[0], Tensor):
            return torch.cat(ordered)
        return [item for part in ordered for item in part]

    def _check_workers(self) -> None:
        dead = [process for process in self.processes if not process.is_alive()]
        if dead:
            codes = ", ".join(str(process.exitcode) for process in dead)
            raise RuntimeError(
                f"{len(dead)} of {len(self.processes)} workers died (exit codes {codes}). With the spawn "
                'start method the calling script must guard its code with `if __name__ == "__main__":`; '
                "otherwise look for out-of-memory kills. Stop the pool and start a new one."
            )

    def close(self) -> None:
        """Stop and join every worker, then close the queues."""
        for _ in self.processes:
            self.input_queue.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
        self.input_queue.close()
        self.output_queue.close()


def start_pool(model: BaseModel, target_devices: list[str] | None = None) -> MultiProcessPool:
    """Start one worker per entry of ``target_devices`` (spawned processes, each with a copy of ``model``)."""
    devices = target_devices or default_devices()
    logger.info("Starting multi-process pool on %s", ", ".join(devices))
    model.to("cpu")
    model.share_memory()
    context = torch.multiprocessing.get_context("spawn")
    inputs, outputs = context.Queue(), context.Queue()
    processes = []
    for device in devices:
        process = context.Process(target=_worker, args=(device, model, inputs, outputs), daemon=True)
        process.start()
        processes.append(process)
    return MultiProcessPool(processes=processes, input_queue=inputs, output_queue=outputs)


_ACTIVE_POOLS: weakref.WeakKeyDictionary[BaseModel, Any] = weakref.WeakKeyDictionary()


def active_pool(model: BaseModel) -> Any:
    """The pool that work for ``model`` is routed to when a call names none (see :func:`using_pool`), or None."""
    return _ACTIVE_POOLS.get(model)


@contextmanager
def using_pool(model: BaseModel, pool: Any) -> Iterator[None]:
    """Within the block, :func:`active_pool` returns ``pool`` for ``model`` (the previous one is restored after).

    Args:
        model: The model whose work is routed.
        pool: A :class:`MultiProcessPool` or :class:`DistributedPool` (anything with ``run``).

    Yields:
        Nothing.
    """
    previous = _ACTIVE_POOLS.get(model)
    _ACTIVE_POOLS[model] = pool
    try:
        yield
    finally:
        if previous is None:
            _ACTIVE_POOLS.pop(model, None)
        else:
            _ACTIVE_POOLS[model] = previous


class DistributedPool:
    """Share a model's work (``run_chunk``) among the ranks of a torch.distributed job, as a pool does.

    Used while rank 0 runs an evaluator during DDP training (see
    :func:`embedforge.util.distributed.distributed_evaluation`, sentence-transformers' ``_DistributedInference``):
    rank 0 calls :meth:`run`, which cuts the inputs into one contiguous share per rank, has every rank (itself
    included) process its share with its own replica of the model, and joins the results in input order. The
    other ranks sit in :meth:`serve` until rank 0 calls :meth:`stop`. Every rank must hold the same weights (DDP
    keeps them equal). Objects travel with ``scatter_object_list`` / ``gather_object``, so inputs, options and
    results must pickle; results come back on the CPU.

    Args:
        model: This rank's model.
    """

    def __init__(self, model: BaseModel) -> None:
        import torch.distributed as dist

        self.model = model
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()

    def run(self, inputs: list[Any], options: Any, chunk_size: int | None = None) -> Tensor | list[Any]:
        """Process ``inputs`` over every rank (called on rank 0 only) and return the results in input order.

        Args:
            inputs: Texts (SentenceTransformer) or text pairs (CrossEncoder).
            options: The call's options; each rank runs them on its own device.
            chunk_size: Unused: each rank takes one contiguous share.

        Returns:
            The shares' tensors concatenated (rows, on the CPU), or their lists joined.

        Raises:
            RuntimeError: If a rank failed; the message holds each failing rank's traceback.
        """
        del chunk_size
        size, remainder = divmod(len(inputs), self.world_size)
        bounds = [rank * size + min(rank, remainder) for rank in range(self.world_size + 1)]
        tasks = [("run", (inputs[bounds[rank] : bounds[rank + 1]], options)) for rank in range(self.world_size)]
        results = self._gather(self._work(self._scatter(tasks)[1]))
        errors = [f"rank {rank}:\n{error}" for rank, (_, error) in enumerate(results) if error is not None]
        if errors:
            raise RuntimeError("Sharing the work among the DDP ranks failed:\n" + "\n".join(errors))
        parts = [output for output, _ in results if output is not None]
        if not parts:
            return torch.empty(0)
        if isinstance(parts[0], Tensor):
            return torch.cat(parts)
        return [item for part in parts for item in part]

    def serve(self) -> None:
        """Process rank 0's shares until it calls :meth:`stop` (called on the other ranks).

        Raises:
            RuntimeError: If rank 0 stopped because its block failed (its traceback is in the message).
        """
        while True:
            command, payload = self._scatter(None)
            if command == "stop":
                if payload is not None:
                    raise RuntimeError(f"Rank 0 failed while the other ranks served its work:\n{payload}")
                return
            self._gather(self._work(payload))

    def stop(self, error: str | None = None) -> None:
        """Release the serving ranks (called on rank 0), passing the traceback if rank 0's block failed."""
        self._scatter([("stop", error)] * self.world_size)

    def _scatter(self, tasks: list[tuple[str, Any]] | None) -> tuple[str, Any]:
        import torch.distributed as dist

        received: list[Any] = [None]
        dist.scatter_object_list(received, tasks, src=0)
        return received[0]

    def _work(self, payload: tuple[list[Any], Any]) -> tuple[Any, str | None]:
        """This rank's share: ``(result on the CPU or None when the share is empty, None)`` or ``(None, traceback)``."""
        inputs, options = payload
        if not inputs:
            return None, None
        try:
            result = self.model.run_chunk(inputs, replace(options, device=self.model.device, show_progress_bar=False))
        except Exception:  # re-raised on rank 0: a rank failing silently would hang every rank
            return None, traceback.format_exc()
        return (result.cpu() if isinstance(result, Tensor) else result), None

    def _gather(self, result: tuple[Any, str | None]) -> list[tuple[Any, str | None]]:
        import torch.distributed as dist

        gathered: list[Any] | None = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(result, gathered, dst=0)
        return gathered or []
