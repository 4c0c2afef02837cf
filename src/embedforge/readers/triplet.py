"""TripletReader: (anchor, positive, negative) rows from a separated file."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from embedforge.readers.input_example import InputExample
from embedforge.readers.text_files import open_text


class TripletReader:
    """Reads a triplet file: each row holds (at least) an anchor, a positive and a negative column.

    Args:
        dataset_folder: The folder holding the files.
        s1_col_idx: Column of the anchor.
        s2_col_idx: Column of the positive.
        s3_col_idx: Column of the negative.
        has_header: Skip the first row.
        delimiter: The column separator.
        quoting: A ``csv`` quoting mode; ``csv.QUOTE_NONE`` treats ``"`` as a plain character.
    """

    def __init__(
        self,
        dataset_folder: str | os.PathLike[str],
        s1_col_idx: int = 0,
        s2_col_idx: int = 1,
        s3_col_idx: int = 2,
        has_header: bool = False,
        delimiter: str = "\t",
        quoting: int = csv.QUOTE_NONE,
    ) -> None:
        self.dataset_folder = dataset_folder
        self.s1_col_idx = s1_col_idx
        self.s2_col_idx = s2_col_idx
        self.s3_col_idx = s3_col_idx
        self.has_header = has_header
        self.delimiter = delimiter
        self.quoting = quoting

    def get_examples(self, filename: str, max_examples: int = 0) -> list[InputExample]:
        """Read ``dataset_folder/filename`` (``.gz`` allowed) into triplets.

        Args:
            filename: The file name inside ``dataset_folder``.
            max_examples: Stop after this many examples; 0 reads the whole file.

        Returns:
            One ``InputExample(texts=[anchor, positive, negative])`` per row (empty ``guid``, label 0).
        """
        examples: list[InputExample] = []
        with open_text(Path(self.dataset_folder) / filename) as file:
            rows = csv.reader(file, delimiter=self.delimiter, quoting=self.quoting)
            if self.has_header:
                next(rows, None)
            for row in rows:
                examples.append(InputExample(texts=[row[self.s1_col_idx], row[self.s2_col_idx], row[self.s3_col_idx]]))
                if 0 < max_examples <= len(examples):
                    break
        return examples
