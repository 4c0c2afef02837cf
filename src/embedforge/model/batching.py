"""Length-sorted batching, shared by ``SentenceTransformer.encode`` and ``CrossEncoder.predict``.

Inputs (texts or text pairs) are tokenized once, without padding, so that batches can be formed from inputs of
equal token length: almost no padding reaches the model. Input modules that tokenize whole batches only are
batched by character length instead. Results come back in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from embedforge.engine.transfer import host_to_device, pins_memory
from embedforge.engine.varlen import VarlenLayout

if TYPE_CHECKING:
    from embedforge.models.base import Features, InputModule

PRETOKENIZE_CHUNK = 16384
"""Inputs tokenized (and length-sorted) together; bounds the memory that unpadded token ids take."""


def text_length(text: Any) -> int:
    """Characters in a text, or summed over the parts of a text pair (the sort key for batching); 0 for an image."""
    if isinstance(text, str):
        return len(text)
    if isinstance(text, Sequence):
        return sum(len(part) for part in text if isinstance(part, str))
    return 0


def longest_first_order(texts: Sequence[str | Sequence[str]]) -> np.ndarray:
    """Indices that sort texts from longest to shortest, so each batch holds texts of similar length."""
    return np.argsort([-text_length(text) for text in texts])


def restore_order(items: list[Any] | Tensor, order: np.ndarray) -> list[Any] | Tensor:
    """Undo a reordering by ``order`` on a tensor (rows) or a list.

    On CUDA the inverse permutation is copied without a sync (pinned, ``non_blocking``), so rows stay queued.
    """
    inverse = np.argsort(order)
    if isinstance(items, Tensor):
        if not len(inverse):
            return items
        return items[host_to_device(torch.as_tensor(inverse), items.device, pin=pins_memory(items.device))]
    return [items[i] for i in inverse]


def to_device(features: Features, device: torch.device, pin: bool = False) -> Features:
    """Move a features dict's tensors and packed layout (``VarlenLayout``) to ``device``; others stay as they are.

    ``pin``: see :func:`~embedforge.engine.transfer.host_to_device`.
    """
    return {
        key: host_to_device(value, device, pin) if isinstance(value, (Tensor, VarlenLayout)) else value
        for key, value in features.items()
    }


@dataclass(frozen=True)
class BatchPlan:
    """How a list of inputs is processed: in which order, and how a batch's features are built.

    Attributes:
        order: Indices of the inputs, longest first.
        make_features: Builds the features of the inputs at some indices (a slice of ``order``).
        lengths: Token count of every input (in input order) when the inputs were tokenized up front, else None.
    """

    order: np.ndarray
    make_features: Callable[[np.ndarray], Features]
    lengths: np.ndarray | None = None

    def slices(self, batch_size: int, token_budget: bool = False) -> list[np.ndarray]:
        """Consecutive slices of ``order``: ``batch_size`` inputs each, or as many as fit a token budget.

        With ``token_budget``, a slice takes as many inputs as fit in ``batch_size`` times the longest input's token
        count (the first, largest batch), and at least ``batch_size``: shorter inputs then share a forward pass, and
        peak memory stays that of the first batch.
        """
        if not token_budget or self.lengths is None or not len(self.order):
            return [self.order[start : start + batch_size] for start in range(0, len(self.order), batch_size)]
        longest = self.lengths[self.order]  # non-increasing: a slice's first input is its longest
        budget = batch_size * int(longest[0])
        slices, start = [], 0
        while start < len(self.order):
            count = max(batch_size, budget // max(int(longest[start]), 1))
            slices.append(self.order[start : start + count])
            start += count
        return slices


def batch_plan(
    input_module: InputModule,
    inputs: list[Any],
    prompt: str | None,
    task: str | None,
    module_kwargs: dict[str, Any] | None = None,
) -> BatchPlan:
    """The processing order of ``inputs`` (longest first) and a function that builds a batch's features.

    Args:
        input_module: The model's first module.
        inputs: Texts or text pairs.
        prompt: Prompt prepended to every text (the first text of a pair), or None.
        task: Routing task for modules that route, or None.
        module_kwargs: Extra ``encode`` keyword arguments; those the input module declares in its
            ``forward_kwargs`` are passed to its tokenization too.

    Returns:
        The plan: ``order`` (indices of ``inputs``), ``make_features(indices) -> features`` for a slice of
        ``order``, and the token lengths when known.
    """
    input_kwargs = {"task": task} if task is not None else {}
    input_kwargs.update(
        {key: value for key, value in (module_kwargs or {}).items() if key in input_module.forward_kwargs}
    )
    pretokenized = input_module.pretokenize(inputs, prompt=prompt, **input_kwargs)
    if pretokenized is not None:
        lengths = np.asarray(pretokenized.lengths)
        return BatchPlan(np.argsort(-lengths, kind="stable"), pretokenized.collate, lengths)

    def make_features(indices: np.ndarray) -> Features:
        return input_module.preprocess([inputs[i] for i in indices], prompt=prompt, **input_kwargs)

    return BatchPlan(longest_first_order(inputs), make_features)


def run_in_batches(
    slices: list[np.ndarray], run_batch: Callable[[np.ndarray], Any], show_progress_bar: bool, streams: int = 1
) -> list[Any]:
    """Call ``run_batch`` on each slice (of a plan's order) and return the results of every batch, in order.

    Args:
        slices: Index arrays, one per batch.
        run_batch: Builds a batch's features, runs the model and returns the batch's outputs; thread-safe when
            ``streams > 1``.
        show_progress_bar: Show a tqdm bar over batches.
        streams: Batches in flight at once, each in a worker thread (an exported runtime set up for concurrent
            runs, see ``BackendModel.streams``). Fewer batches than streams are split so that every stream works.
    """
    if streams > 1:
        slices = spread_slices(slices, streams)
    bar = None
    if show_progress_bar:
        from tqdm.autonotebook import tqdm

        bar = tqdm(total=len(slices), desc="Batches")
    try:
        if streams <= 1 or len(slices) <= 1:
            return [_counted(run_batch(indices), bar) for indices in slices]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="embedforge-stream") as executor:
            return [_counted(result, bar) for result in executor.map(run_batch, slices)]
    finally:
        if bar is not None:
            bar.close()


def spread_slices(slices: list[np.ndarray], streams: int) -> list[np.ndarray]:
    """``slices`` as they are when there are at least ``streams`` of them, else their indices split into that many."""
    if len(slices) >= streams or not slices:
        return slices
    joined = np.concatenate(slices)
    return [part for part in np.array_split(joined, min(streams, len(joined))) if len(part)]


def _counted(result: Any, bar: Any) -> Any:
    if bar is not None:
        bar.update(1)
    return result


def in_chunks(
    inputs: list[Any], run_chunk: Callable[[list[Any]], Tensor | list[Any]], as_tensor: bool
) -> Tensor | list[Any]:
    """Apply ``run_chunk`` to ``PRETOKENIZE_CHUNK``-sized chunks and join the results.

    Args:
        inputs: All inputs.
        run_chunk: Processes one chunk, returning one tensor row or one list item per input.
        as_tensor: The chunks' results are tensors to concatenate (else lists to join).
    """
    parts = [run_chunk(inputs[start : start + PRETOKENIZE_CHUNK]) for start in range(0, len(inputs), PRETOKENIZE_CHUNK)]
    return join_parts(parts, as_tensor)


def join_parts(parts: list[Tensor] | list[list[Any]], as_tensor: bool) -> Tensor | list[Any]:
    """Concatenate per-chunk (or per-batch) results: tensors along rows (an empty tensor for none), or lists."""
    if as_tensor:
        return torch.cat(parts) if parts else torch.empty(0)
    return [item for part in parts for item in part]
