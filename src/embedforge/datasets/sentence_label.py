"""SentenceLabelDataset: streams examples so that each label comes in runs of ``samples_per_label`` examples."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterator

import numpy as np
from torch.utils.data import IterableDataset

from embedforge.readers.input_example import InputExample

logger = logging.getLogger(__name__)


class SentenceLabelDataset(IterableDataset[InputExample]):
    """Yields examples in groups of ``samples_per_label`` consecutive examples sharing one label.

    For batch triplet losses (BatchHardTripletLoss...), which need several examples of a label in each batch. The
    stream goes in rounds: each round visits every label once, in a random order, and yields ``samples_per_label``
    distinct examples of it drawn at random. Labels with fewer examples than that are left out. One pass yields
    ``len(self)`` examples. Randomness comes from ``numpy.random`` (seed it with ``np.random.seed``), drawn exactly
    as sentence-transformers does, so the same seed gives the same stream.

    It does not check that the batch size is a multiple of ``samples_per_label``.

    Args:
        examples: The examples; ``label`` must be hashable (a class id).
        samples_per_label: Examples drawn from a label in a row (at least 1). The batch size should be a multiple
            of it.
        with_replacement: Kept for compatibility; it changes nothing. In sentence-transformers the record of drawn
            examples is cleared after every round, and a round draws from each label once, so an example can be
            drawn again in every round either way (never twice in one group).
    """

    def __init__(
        self, examples: list[InputExample], samples_per_label: int = 2, with_replacement: bool = False
    ) -> None:
        super().__init__()
        if samples_per_label < 1:
            raise ValueError(f"SentenceLabelDataset needs samples_per_label >= 1, got {samples_per_label}.")
        self.samples_per_label = samples_per_label
        self.with_replacement = with_replacement
        groups: dict[Hashable, list[InputExample]] = {}
        for example in examples:
            groups.setdefault(example.label, []).append(example)
        self.grouped_inputs: list[InputExample] = []
        self.groups_right_border: list[int] = []
        for label_examples in groups.values():
            if len(label_examples) >= samples_per_label:
                self.grouped_inputs.extend(label_examples)
                self.groups_right_border.append(len(self.grouped_inputs))
        self.label_range = np.arange(len(self.groups_right_border))
        np.random.shuffle(self.label_range)
        logger.info(
            "SentenceLabelDataset: %d examples, of which %d are usable (their label appears at least %d times); "
            "%d labels kept.",
            len(examples),
            len(self.grouped_inputs),
            samples_per_label,
            len(self.groups_right_border),
        )

    def _group_bounds(self, label: int) -> tuple[int, int]:
        """Return the ``[start, end)`` range of ``label``'s examples in ``grouped_inputs``."""
        start = 0 if label == 0 else self.groups_right_border[label - 1]
        return start, self.groups_right_border[label]

    def __iter__(self) -> Iterator[InputExample]:
        label_idx = 0
        count = 0
        while count < len(self.grouped_inputs):
            start, end = self._group_bounds(int(self.label_range[label_idx]))
            for index in np.random.choice(np.arange(start, end), self.samples_per_label, replace=False):
                count += 1
                yield self.grouped_inputs[index]
            label_idx += 1
            if label_idx >= len(self.label_range):
                label_idx = 0
                np.random.shuffle(self.label_range)

    def __len__(self) -> int:
        return len(self.grouped_inputs)
