"""NLIDataReader: SNLI / MultiNLI in the s1/s2/labels gzip-file layout."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from embedforge.readers.input_example import InputExample

NLI_LABELS: dict[str, int] = {"contradiction": 0, "entailment": 1, "neutral": 2}
"""Label names to ids, as sentence-transformers' NLIDataReader maps them."""


class NLIDataReader:
    """Reads the Stanford NLI and MultiGenre NLI datasets split into three gzip files per split.

    For the split ``train.gz`` the folder holds ``s1.train.gz`` (premises), ``s2.train.gz`` (hypotheses) and
    ``labels.train.gz`` (one of ``contradiction``, ``entailment``, ``neutral`` per line).

    Args:
        dataset_folder: The folder holding the files.
    """

    def __init__(self, dataset_folder: str | os.PathLike[str]) -> None:
        self.dataset_folder = dataset_folder

    def get_examples(self, filename: str, max_examples: int = 0) -> list[InputExample]:
        """Read one split into sentence-pair examples with integer labels.

        As in sentence-transformers, the texts keep their line endings (tokenizers strip them).

        Args:
            filename: The split suffix, e.g. ``"train.gz"``; also the prefix of each ``guid`` (``"{filename}-{row}"``).
            max_examples: Stop after this many examples; 0 reads the whole split.

        Returns:
            One ``InputExample(texts=[premise, hypothesis], label=label_id)`` per line.
        """
        premises = self._read_lines("s1." + filename)
        hypotheses = self._read_lines("s2." + filename)
        labels = self._read_lines("labels." + filename)
        examples: list[InputExample] = []
        for premise, hypothesis, label in zip(premises, hypotheses, labels, strict=False):
            guid = f"{filename}-{len(examples)}"
            examples.append(InputExample(guid=guid, texts=[premise, hypothesis], label=self.map_label(label)))
            if 0 < max_examples <= len(examples):
                break
        return examples

    def _read_lines(self, name: str) -> list[str]:
        with gzip.open(Path(self.dataset_folder) / name, mode="rt", encoding="utf-8") as file:
            return file.readlines()

    @staticmethod
    def get_labels() -> dict[str, int]:
        """Return the map from label name to id: contradiction 0, entailment 1, neutral 2."""
        return dict(NLI_LABELS)

    def get_num_labels(self) -> int:
        """Return the number of labels (3)."""
        return len(NLI_LABELS)

    def map_label(self, label: str) -> int:
        """Return the id of ``label``, ignoring case and surrounding whitespace.

        Raises:
            KeyError: If ``label`` is not one of the three NLI labels.
        """
        return NLI_LABELS[label.strip().lower()]
