"""Length-sorted batching, shared by ``SentenceTransformer.encode`` and ``CrossEncoder.predict``.

Inputs (texts or text pairs) are tokenized once, without padding, so that batches can be formed from inputs of
equal token length: almost no padding reaches the model. Input modules that tokenize whole batches only are
batched by character length instead. Results come back in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from embedforge.models.base import Features, InputModule

PRETOKENIZE_CHUNK = 16384
"""Inputs tokenized (and length-sorted) together; bounds the memory that unpadded token ids take."""


def text_length(text: str | Sequence[str]) -> int:
    """Characters in a text, or summed over the parts of a text pair (the sort key for batching)."""
    if isinstance(text, str):
        return len(text)
    return sum(len(part) for part in text)


def longest_first_order(texts: Sequence[str | Sequence[str]]) -> np.ndarray:
    """Indices that sort texts from longest to shortest, so each batch holds texts of similar length."""
    return np.argsort([-text_length(text) for text in texts])


def restore_order(items: list[Any] | Tensor, order: np.ndarray) -> list[Any] | Tensor:
    """Undo a reordering by ``order`` on a tensor (rows) or a list."""
    inverse = np.argsort(order)
    if isinstance(items, Tensor):
        return items[torch.as_tensor(inverse, device=items.device)] if len(inverse) else items
    return [items[i] for i in inverse]


def to_device(features: Features, device: torch.device) -> Features:
    """Move the tensors of a features dict to ``device`` (other values unchanged)."""
    return {key: value.to(device) if isinstance(value, Tensor) else value for key, value in features.items()}


def batch_plan(
    input_module: InputModule, inputs: list[Any], prompt: str | None, task: str | None
) -> tuple[np.ndarray, Callable[[np.ndarray], Features]]:
    """The processing order of ``inputs`` (longest first) and a function that builds a batch's features.

    Args:
        input_module: The model's first module.
        inputs: Texts or text pairs.
        prompt: Prompt prepended to every text (the first text of a pair), or None.
        task: Routing task for modules that route, or None.

    Returns:
        ``order`` (indices of ``inputs``) and ``make_features(indices) -> features`` for a slice of ``order``.
    """
    task_kwargs = {"task": task} if task is not None else {}
    pretokenized = input_module.pretokenize(inputs, prompt=prompt, **task_kwargs)
    if pretokenized is not None:
        return np.argsort(-np.asarray(pretokenized.lengths), kind="stable"), pretokenized.collate

    def make_features(indices: np.ndarray) -> Features:
        return input_module.preprocess([inputs[i] for i in indices], prompt=prompt, **task_kwargs)

    return longest_first_order(inputs), make_features


def run_in_batches(
    order: np.ndarray, run_batch: Callable[[np.ndarray], Any], batch_size: int, show_progress_bar: bool
) -> list[Any]:
    """Call ``run_batch`` on consecutive slices of ``order`` and return the results of every batch, in order."""
    starts = range(0, len(order), batch_size)
    if show_progress_bar:
        from tqdm.autonotebook import tqdm

        starts = tqdm(starts, desc="Batches")
    return [run_batch(order[start : start + batch_size]) for start in starts]


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
    if as_tensor:
        return torch.cat(parts) if parts else torch.empty(0)
    return [item for part in parts for item in part]
