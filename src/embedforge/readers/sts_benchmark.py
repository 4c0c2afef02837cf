"""STSBenchmarkDataReader: STSDataReader with the column layout of the original STS benchmark files."""

from __future__ import annotations

import csv
import os

from embedforge.readers.sts_data import STSDataReader


class STSBenchmarkDataReader(STSDataReader):
    """Reads the original STS benchmark ``sts-*.csv`` files: sentences in columns 5 and 6, the score in column 4.

    Arguments and behaviour are those of :class:`STSDataReader`; only the default columns differ.
    """

    def __init__(
        self,
        dataset_folder: str | os.PathLike[str],
        s1_col_idx: int = 5,
        s2_col_idx: int = 6,
        score_col_idx: int = 4,
        delimiter: str = "\t",
        quoting: int = csv.QUOTE_NONE,
        normalize_scores: bool = True,
        min_score: float = 0,
        max_score: float = 5,
    ) -> None:
        super().__init__(
            dataset_folder=dataset_folder,
            s1_col_idx=s1_col_idx,
            s2_col_idx=s2_col_idx,
            score_col_idx=score_col_idx,
            delimiter=delimiter,
            quoting=quoting,
            normalize_scores=normalize_scores,
            min_score=min_score,
            max_score=max_score,
        )
