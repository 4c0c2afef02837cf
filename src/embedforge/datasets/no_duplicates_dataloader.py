"""NoDuplicatesDataLoader: batches of InputExamples in which no text appears twice (for in-batch negatives)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from typing import Any

from embedforge.readers.input_example import InputExample


class NoDuplicatesDataLoader:
    """Legacy data loader that never puts the same text twice in one batch, as sentence-transformers' one.

    Meant for losses with in-batch negatives such as MultipleNegativesRankingLoss, where a duplicate text would be
    a false negative. Texts are compared after ``str(text).strip().lower()``. The examples are shuffled with
    Python's ``random`` on creation and each time the loader has gone through all of them; an example that would
    bring a duplicate is skipped (it comes again in a later pass). Each batch is passed through ``collate_fn``,
    which ``fit`` sets, or returned as a list of examples while it is ``None``.

    Args:
        train_examples: The examples; the loader keeps its own shuffled copy.
        batch_size: Examples per batch.

    Example:
        >>> loader = NoDuplicatesDataLoader([InputExample(texts=[f"q{i}", f"a{i}"]) for i in range(8)], batch_size=4)
        >>> len(loader), [len(batch) for batch in loader]
        (2, [4, 4])
    """

    def __init__(self, train_examples: list[InputExample], batch_size: int) -> None:
        self.batch_size = batch_size
        self.data_pointer = 0
        self.collate_fn: Callable[[list[InputExample]], Any] | None = None
        self.train_examples = list(train_examples)
        random.shuffle(self.train_examples)

    def __iter__(self) -> Iterator[Any]:
        for _ in range(len(self)):
            batch = self._next_batch()
            yield self.collate_fn(batch) if self.collate_fn is not None else batch

    def _next_batch(self) -> list[InputExample]:
        batch: list[InputExample] = []
        texts_in_batch: set[str] = set()
        skipped_in_a_row = 0
        while len(batch) < self.batch_size:
            example = self.train_examples[self.data_pointer]
            keys = [str(text).strip().lower() for text in example.texts or []]
            if texts_in_batch.isdisjoint(keys):
                batch.append(example)
                texts_in_batch.update(keys)
                skipped_in_a_row = 0
            else:
                skipped_in_a_row += 1
                # 2 * n skips in a row cover one full shuffled pass, so every example clashes with this batch.
                if skipped_in_a_row >= 2 * len(self.train_examples):
                    raise ValueError(self._cannot_fill_message(len(batch)))
            self.data_pointer += 1
            if self.data_pointer >= len(self.train_examples):
                self.data_pointer = 0
                random.shuffle(self.train_examples)
        return batch

    def _cannot_fill_message(self, filled: int) -> str:
        return (
            f"NoDuplicatesDataLoader cannot fill a batch of {self.batch_size}: every remaining example repeats a text "
            f"already in the batch after {filled} examples. Use a smaller batch_size or more distinct texts."
        )

    def __len__(self) -> int:
        return math.floor(len(self.train_examples) / self.batch_size)
