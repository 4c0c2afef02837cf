"""SentencesDataset: the deprecated wrapper around a list of InputExamples, kept for old scripts."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from embedforge.readers.input_example import InputExample


class SentencesDataset(Dataset[InputExample]):
    """Deprecated: a map-style dataset over ``examples``; pass the list of examples to the DataLoader directly.

    Args:
        examples: The examples.
        model: Ignored; accepted for sentence-transformers compatibility.
    """

    def __init__(self, examples: list[InputExample], model: Any = None) -> None:
        self.examples = examples

    def __getitem__(self, item: int) -> InputExample:
        return self.examples[item]

    def __len__(self) -> int:
        return len(self.examples)
