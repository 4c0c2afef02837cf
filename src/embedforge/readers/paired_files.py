"""PairedFilesReader: a pair (or n-tuple) dataset split over parallel files, line i of each file together."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import ExitStack

from embedforge.readers.input_example import InputExample
from embedforge.readers.text_files import open_text


class PairedFilesReader:
    """Reads parallel files (plain or ``.gz``): line i of every file forms the texts of example i, label 1.

    Args:
        filepaths: The files, one per text position (e.g. ``["train.en", "train.de"]``).
    """

    def __init__(self, filepaths: Sequence[str | os.PathLike[str]]) -> None:
        self.filepaths = filepaths

    def get_examples(self, max_examples: int = 0) -> list[InputExample]:
        """Read the files in lockstep until the shortest one ends.

        As in sentence-transformers, the texts keep their line endings (tokenizers strip them).

        Args:
            max_examples: Stop after this many examples; 0 reads everything.

        Returns:
            ``InputExample(guid=str(i), texts=[line_i of each file], label=1)`` for each line index ``i``.
        """
        examples: list[InputExample] = []
        with ExitStack() as stack:
            files = [stack.enter_context(open_text(path)) for path in self.filepaths]
            while True:
                texts = [file.readline() for file in files]
                if "" in texts:  # one file has ended
                    break
                examples.append(InputExample(guid=str(len(examples)), texts=texts, label=1))
                if 0 < max_examples <= len(examples):
                    break
        return examples
