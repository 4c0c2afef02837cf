"""Helpers shared by the evaluator tests: data columns, encode recording, metric and CSV comparison."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

STS_FULL = 100
"""Rows of stsb/test.csv used for the default-settings parity check."""
STS_SMALL = 20
"""Rows of stsb/test.csv used for the many-settings parity checks."""
NLI_FULL = 100
"""Rows of nli/triplet/test.csv used for the default-settings parity check."""
NLI_SMALL = 30
"""Rows of nli/triplet/test.csv used for the many-settings parity checks."""


def sts_columns(rows: list[dict[str, str]], count: int) -> tuple[list[str], list[str], list[float]]:
    rows = rows[:count]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows]


def nli_columns(rows: list[dict[str, str]], count: int) -> tuple[list[str], list[str], list[str]]:
    rows = rows[:count]
    return [r["anchor"] for r in rows], [r["positive"] for r in rows], [r["negative"] for r in rows]


@contextmanager
def recording_encode(model: Any) -> Iterator[list[list[str]]]:
    """Record the texts of every ``model.encode`` call (one list per call) while the block runs."""
    calls: list[list[str]] = []
    inner: Callable[..., Any] = model.encode

    def encode(sentences: Any = None, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(sentences))
        return inner(sentences, *args, **kwargs)

    model.encode = encode
    try:
        yield calls
    finally:
        model.encode = inner


QUANTIZED_ATOL = 1e-3
"""Metric tolerance against sentence-transformers for quantized embeddings (int8, uint8, binary, ubinary): both
libraries pad batches differently, and on CPUs with AVX-512/AMX kernels float32 results then differ in the last
bits, enough to move a value across a quantization bucket edge now and then (seen: pearson_dot 1.9e-4 apart)."""


def metrics_atol(precision: str | None) -> float:
    """The tolerance for metrics computed at ``precision`` (1e-4 for float32, :data:`QUANTIZED_ATOL` otherwise)."""
    return 1e-4 if precision in (None, "float32") else QUANTIZED_ATOL


def assert_metrics_match(ours: dict[str, float], theirs: dict[str, float], atol: float = 1e-4) -> None:
    """Same keys in the same order, and every value within ``atol`` (NaN equals NaN)."""
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert isinstance(ours[key], float), key
        np.testing.assert_allclose(ours[key], value, atol=atol, rtol=0, err_msg=key)


def assert_csv_match(ours_dir: Path, theirs_dir: Path, atol: float = 1e-4) -> None:
    """The same CSV file names, identical headers, and rows equal within ``atol``."""
    our_files = sorted(path.name for path in ours_dir.iterdir())
    assert our_files == sorted(path.name for path in theirs_dir.iterdir())
    assert our_files
    for file_name in our_files:
        with open(ours_dir / file_name, newline="", encoding="utf-8") as handle:
            our_rows = list(csv.reader(handle))
        with open(theirs_dir / file_name, newline="", encoding="utf-8") as handle:
            their_rows = list(csv.reader(handle))
        assert our_rows[0] == their_rows[0]
        assert len(our_rows) == len(their_rows)
        for our_row, their_row in zip(our_rows[1:], their_rows[1:], strict=True):
            np.testing.assert_allclose(np.asarray(our_row, float), np.asarray(their_row, float), atol=atol, rtol=0)
