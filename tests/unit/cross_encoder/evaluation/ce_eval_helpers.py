"""Helpers of the cross-encoder evaluator tests: real data slices, and metric / CSV comparison with ST 6.2."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

ATOL = 1e-4
"""Largest difference allowed between a metric of embedforge and the same metric of sentence-transformers."""


def mrpc_pairs(data: Path, count: int = 200) -> tuple[list[tuple[str, str]], list[int]]:
    """The first ``count`` MRPC test pairs and their 0/1 labels."""
    with open(data / "mrpc" / "test.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [(row["sentence1"], row["sentence2"]) for row in rows], [int(row["label"]) for row in rows]


def nli_pairs(data: Path, count: int = 200) -> tuple[list[tuple[str, str]], list[int]]:
    """The first ``count`` SNLI test pairs and their 3-class labels."""
    with gzip.open(data / "nli" / "pair-class" / "test.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [(row["premise"], row["hypothesis"]) for row in rows], [int(row["label"]) for row in rows]


def stsb_pairs(data: Path, count: int = 200) -> tuple[list[tuple[str, str]], list[float]]:
    """The first ``count`` STSb test pairs and their gold scores (0..1)."""
    with open(data / "stsb" / "test.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [(row["sentence1"], row["sentence2"]) for row in rows], [float(row["score"]) for row in rows]


def wikiqa_samples(data: Path, count: int = 30) -> list[dict[str, Any]]:
    """The first ``count`` WikiQA test reranking samples (query, positive list, negative list)."""
    with open(data / "wikiqa" / "reranking_test.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle][:count]


def assert_metrics_match(ours: dict[str, float], theirs: dict[str, float], atol: float = ATOL) -> None:
    """Same keys in the same order, every value a float within ``atol`` of the reference (NaN equals NaN)."""
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert isinstance(ours[key], float), key
        np.testing.assert_allclose(ours[key], value, atol=atol, rtol=0, err_msg=key)


def assert_csv_match(ours_dir: Path, theirs_dir: Path, atol: float = ATOL) -> None:
    """The same CSV file names, identical headers, and rows equal within ``atol``."""
    our_files = sorted(path.name for path in ours_dir.iterdir())
    assert our_files == sorted(path.name for path in theirs_dir.iterdir())
    for name in our_files:
        ours = list(csv.reader((ours_dir / name).read_text("utf-8").splitlines()))
        theirs = list(csv.reader((theirs_dir / name).read_text("utf-8").splitlines()))
        assert ours[0] == theirs[0], name
        np.testing.assert_allclose(np.asarray(ours[1:], float), np.asarray(theirs[1:], float), atol=atol, err_msg=name)
