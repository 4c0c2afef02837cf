"""Run a model's work in several worker processes (one per device), as ``start_multi_process_pool`` does in ST.

The work is the model family's :meth:`~embedforge.model.base.BaseModel.run_chunk`: embedding texts for a
SentenceTransformer, scoring pairs for a CrossEncoder. Each task carries the call's options (a frozen dataclass with
``device`` and ``show_progress_bar`` fields), which the worker points at its own device.
"""

from __future__ import annotations

import logging
import math
import queue
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
