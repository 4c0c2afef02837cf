"""How ``encode`` feeds an accelerator: chunks tokenized ahead in a background thread, a short first chunk.

``encode`` tokenizes its inputs chunk by chunk (``batching.PRETOKENIZE_CHUNK`` inputs at a time, sorted by token
length within a chunk) and runs the forward passes of a chunk's batches. On a GPU the forward passes are queued
without waiting for them (no device->host copy per batch, see ``encoding``), so the CPU is free while the GPU works:
the next chunk is tokenized then, in one background thread (fast tokenizers release the GIL while they work).

Two settings, both on for models on CUDA and off elsewhere (on a CPU, tokenization would take cores from the
forward passes' own threads); the module-level flags below override them, e.g. in tests:

- ``PREFETCH``: tokenize chunk k+1 in the background while chunk k's forward passes run.
- ``RAMP``: the first chunk holds ``FIRST_CHUNK`` inputs (at least one batch) and each next chunk twice as many, up
  to ``PRETOKENIZE_CHUNK``, so the GPU starts after a short tokenization instead of one of a whole chunk; the next
  chunk, twice as large, is tokenized while the GPU works on the current one. Chunks bound length sorting, so the
  batches differ from those of a single chunk (not the embeddings, up to float rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from embedforge.model import batching

__all__ = ["FIRST_CHUNK", "PREFETCH", "RAMP", "PipelineMode", "chunk_sizes", "run_pipelined", "split_chunks"]

PREFETCH: bool | None = None
"""Tokenize the next chunk in a background thread: None (default) on for models on CUDA only; True/False force it."""

RAMP: bool | None = None
"""Start with a short chunk and double: None (default) on for models on CUDA only; True/False force it."""

FIRST_CHUNK = 1024
"""Inputs in the first chunk when ``RAMP`` is on (at least ``batch_size``)."""

PlanT = TypeVar("PlanT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class PipelineMode:
    """How one ``encode`` call moves its inputs through tokenization, host memory and the device.

    Attributes:
        prefetch: Tokenize the next chunk in a background thread while the current chunk runs.
        first_chunk: Size of the first chunk (the next ones double up to ``PRETOKENIZE_CHUNK``), or None for
            chunks of ``PRETOKENIZE_CHUNK`` from the start.
        pin: Collate batches into pinned (page-locked) host memory and copy them with ``non_blocking=True``.
    """

    prefetch: bool = False
    first_chunk: int | None = None
    pin: bool = False

    @classmethod
    def for_device(cls, device: torch.device, batch_size: int) -> PipelineMode:
        """The mode for a model on ``device``: everything on for CUDA, off elsewhere, unless a flag forces it."""
        on_cuda = device.type == "cuda"
        prefetch = on_cuda if PREFETCH is None else PREFETCH
        ramp = on_cuda if RAMP is None else RAMP
        first_chunk = max(FIRST_CHUNK, batch_size) if ramp else None
        return cls(prefetch=prefetch, first_chunk=first_chunk, pin=batching.pins_memory(device))


def chunk_sizes(total: int, full: int, first: int | None = None) -> list[int]:
    """Sizes of consecutive chunks covering ``total`` inputs.

    Args:
        total: Number of inputs.
        full: Largest chunk (``PRETOKENIZE_CHUNK``).
        first: Size of the first chunk, each next one twice the previous, capped at ``full``; None: all ``full``.

    Returns:
        Positive sizes summing to ``total`` (empty for no inputs).
    """
    sizes: list[int] = []
    size = min(first, full) if first is not None else full
    remaining = total
    while remaining > 0:
        sizes.append(min(size, remaining))
        remaining -= sizes[-1]
        size = min(2 * size, full)
    return sizes


def split_chunks(inputs: Sequence[Any], first: int | None = None) -> list[list[Any]]:
    """``inputs`` cut into chunks of ``chunk_sizes`` (read ``batching.PRETOKENIZE_CHUNK`` at call time)."""
    chunks, start = [], 0
    for size in chunk_sizes(len(inputs), batching.PRETOKENIZE_CHUNK, first):
        chunks.append(list(inputs[start : start + size]))
        start += size
    return chunks


def run_pipelined(
    chunks: list[list[Any]],
    prepare: Callable[[list[Any]], PlanT],
    run: Callable[[PlanT], ResultT],
    prefetch: bool,
) -> list[ResultT]:
    """``run(prepare(chunk))`` for every chunk, in order; with ``prefetch``, chunk k+1 is prepared during ``run`` k.

    With ``prefetch``, every ``prepare`` runs in one background thread, one at a time (a tokenizer is never used by
    two threads at once through this function) and ``run`` in the calling thread. Results and errors are the same
    as without it: an error of either is raised here, after the background thread has finished.

    Args:
        chunks: The inputs, cut into chunks.
        prepare: Tokenizes and plans a chunk (must not depend on the results of ``run``).
        run: Runs a prepared chunk.
        prefetch: Prepare the next chunk in a background thread.

    Returns:
        One result per chunk.
    """
    if not prefetch or len(chunks) < 2:
        return [run(prepare(chunk)) for chunk in chunks]
    results: list[ResultT] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedforge-tokenize") as executor:
        pending: Future[PlanT] = executor.submit(prepare, chunks[0])
        for following in chunks[1:]:
            current = pending.result()
            pending = executor.submit(prepare, following)
            results.append(run(current))
        results.append(run(pending.result()))
    return results
