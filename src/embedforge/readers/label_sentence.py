"""LabelSentenceReader: a file of (label, sentence) rows, with labels mapped to integer ids."""

from __future__ import annotations

import os
from pathlib import Path

from embedforge.readers.input_example import InputExample
from embedforge.readers.text_files import open_text


class LabelSentenceReader:
    """Reads a separated file with (at least) a label column and a sentence column, e.g. for batch triplet losses.

    Labels are mapped to consecutive integer ids in order of first appearance; the map (``label_map``) is kept
    across calls, so train and dev files read with one reader share ids.

    Args:
        folder: The folder holding the files.
        label_col_idx: Column of the label.
        sentence_col_idx: Column of the sentence.
        separator: The column separator.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        label_col_idx: int = 0,
        sentence_col_idx: int = 1,
        separator: str = "\t",
    ) -> None:
        self.folder = folder
        self.label_map: dict[str, int] = {}
        self.label_col_idx = label_col_idx
        self.sentence_col_idx = sentence_col_idx
        self.separator = separator

    def get_examples(self, filename: str, max_examples: int = 0) -> list[InputExample]:
        """Read ``folder/filename`` (``.gz`` allowed) into single-text examples with integer labels.

        Args:
            filename: The file name inside ``folder``; also the prefix of each ``guid`` (``"{filename}-{row}"``).
            max_examples: Stop after this many examples; 0 reads the whole file.

        Returns:
            One ``InputExample(texts=[sentence], label=label_id)`` per line.
        """
        examples: list[InputExample] = []
        with open_text(Path(self.folder) / filename) as file:
            for line in file:
                columns = line.strip().split(self.separator)
                label = columns[self.label_col_idx]
                label_id = self.label_map.setdefault(label, len(self.label_map))
                guid = f"{filename}-{len(examples)}"
                examples.append(InputExample(guid=guid, texts=[columns[self.sentence_col_idx]], label=label_id))
                if 0 < max_examples <= len(examples):
                    break
        return examples
