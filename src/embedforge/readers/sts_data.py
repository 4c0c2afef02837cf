"""STSDataReader: sentence pairs with a similarity score, from a separated (optionally gzipped) file."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from embedforge.readers.input_example import InputExample
from embedforge.readers.text_files import open_text


class STSDataReader:
    """Reads an STS file: each row holds two sentences and a score; scores are normalized to 0..1 by default.

    The defaults expect a tab-separated file ``sentence1, sentence2, score`` with scores in 0..5.

    Args:
        dataset_folder: The folder holding the files.
        s1_col_idx: Column of the first sentence.
        s2_col_idx: Column of the second sentence.
        score_col_idx: Column of the score.
        delimiter: The column separator.
        quoting: A ``csv`` quoting mode; ``csv.QUOTE_NONE`` treats ``"`` as a plain character.
        normalize_scores: Map scores from ``min_score..max_score`` to ``0..1``.
        min_score: The lowest raw score.
        max_score: The highest raw score.
    """

    def __init__(
        self,
        dataset_folder: str | os.PathLike[str],
        s1_col_idx: int = 0,
        s2_col_idx: int = 1,
        score_col_idx: int = 2,
        delimiter: str = "\t",
        quoting: int = csv.QUOTE_NONE,
        normalize_scores: bool = True,
        min_score: float = 0,
        max_score: float = 5,
    ) -> None:
        self.dataset_folder = dataset_folder
        self.score_col_idx = score_col_idx
        self.s1_col_idx = s1_col_idx
        self.s2_col_idx = s2_col_idx
        self.delimiter = delimiter
        self.quoting = quoting
        self.normalize_scores = normalize_scores
        self.min_score = min_score
        self.max_score = max_score

    def get_examples(self, filename: str, max_examples: int = 0) -> list[InputExample]:
        """Read ``dataset_folder/filename`` (``.gz`` allowed) into scored sentence pairs.

        Args:
            filename: The file name inside ``dataset_folder``, e.g. ``"sts-train.csv"``; also the prefix of each
                ``guid`` (``f"{filename}{row}"``, no separator, as in sentence-transformers).
            max_examples: Stop after this many examples; 0 reads the whole file.

        Returns:
            One ``InputExample(texts=[s1, s2], label=score)`` per row.
        """
        examples: list[InputExample] = []
        with open_text(Path(self.dataset_folder) / filename) as file:
            for row_id, row in enumerate(csv.reader(file, delimiter=self.delimiter, quoting=self.quoting)):
                texts = [row[self.s1_col_idx], row[self.s2_col_idx]]
                examples.append(InputExample(guid=f"{filename}{row_id}", texts=texts, label=self._score(row)))
                if 0 < max_examples <= len(examples):
                    break
        return examples

    def _score(self, row: list[str]) -> float:
        score = float(row[self.score_col_idx])
        if self.normalize_scores:
            score = (score - self.min_score) / (self.max_score - self.min_score)
        return score


def __getattr__(name: str) -> object:
    """``STSBenchmarkDataReader`` here too, where sentence-transformers defines it.

    Imported on first use: its own module imports this one.
    """
    if name == "STSBenchmarkDataReader":
        from embedforge.readers.sts_benchmark import STSBenchmarkDataReader

        return STSBenchmarkDataReader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
