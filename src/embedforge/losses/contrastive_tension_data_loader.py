"""ContrastiveTensionDataLoader: batches of identical and random sentence pairs for ContrastiveTensionLoss."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from embedforge.readers.input_example import InputExample

__all__ = ["ContrastiveTensionDataLoader"]


class ContrastiveTensionDataLoader:
    """Legacy data loader of (sentence, sentence) pairs for ``ContrastiveTensionLoss``, as sentence-transformers'.

    Each pass shuffles the sentences (Python's ``random``) and reads them in order: in every batch the pairs at
    positions ``0, pos_neg_ratio, 2 * pos_neg_ratio, …`` are positives, one sentence twice (label 1); every other
    pair takes two consecutive sentences (label 0). Each sentence is used once per pass, so a pass has
    ``len(sentences) // (2 * batch_size - batch_size // pos_neg_ratio)`` batches. Batches are lists of
    :class:`~embedforge.InputExample`, passed through ``collate_fn`` when it is set (``fit`` sets it).

    With :class:`~embedforge.SentenceTransformerTrainer`, turn the examples into a dataset with columns
    ``sentence_A, sentence_B, label`` instead (or map a sentence column to such pairs).

    Args:
        sentences: The sentences; the loader shuffles its own copy (the caller's list is left as it is).
        batch_size: Pairs per batch; must be divisible by ``pos_neg_ratio``.
        pos_neg_ratio: One positive pair every ``pos_neg_ratio`` pairs.

    Raises:
        ValueError: If ``batch_size`` is not divisible by ``pos_neg_ratio``.

    Example:
        >>> loader = ContrastiveTensionDataLoader([f"sentence {i}" for i in range(30)], batch_size=4, pos_neg_ratio=2)
        >>> len(loader), [example.label for example in next(iter(loader))]
        (5, [1, 0, 1, 0])
    """

    def __init__(self, sentences: Sequence[str], batch_size: int, pos_neg_ratio: int = 8) -> None:
        if batch_size % pos_neg_ratio != 0:
            raise ValueError(
                f"ContrastiveTensionDataLoader got pos_neg_ratio={pos_neg_ratio} and batch_size={batch_size}, but "
                "the batch size must be divisible by pos_neg_ratio (each block of pos_neg_ratio pairs holds one "
                "positive). Change one of them."
            )
        self.sentences = list(sentences)
        self.batch_size = batch_size
        self.pos_neg_ratio = pos_neg_ratio
        self.collate_fn: Callable[[list[InputExample]], Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        random.shuffle(self.sentences)
        sentences = iter(self.sentences)
        for _ in range(len(self)):
            batch = []
            for position in range(self.batch_size):
                first = next(sentences)
                label = int(position % self.pos_neg_ratio == 0)
                second = first if label else next(sentences)
                batch.append(InputExample(texts=[first, second], label=label))
            yield self.collate_fn(batch) if self.collate_fn is not None else batch

    def __len__(self) -> int:
        sentences_per_batch = 2 * self.batch_size - self.batch_size // self.pos_neg_ratio
        return len(self.sentences) // sentences_per_batch
