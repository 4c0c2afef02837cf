"""STSBenchmarkDataReader: same pairs as sentence-transformers' on the original sts-*.csv column layout."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from embedforge.readers import STSBenchmarkDataReader, STSDataReader


@pytest.fixture
def stsb_folder(shared_data: Path, tmp_path: Path) -> Path:
    """STSb validation rows in the original layout: genre, source, year, sid, score, sentence1, sentence2."""
    with (shared_data / "stsb" / "validation.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))[:120]
    columns = ("genre", "source", "year", "sid", "raw_score", "sentence1", "sentence2")
    lines = "".join("\t".join(row[column] for column in columns) + "\n" for row in rows)
    (tmp_path / "sts-dev.csv").write_text(lines, encoding="utf-8")
    return tmp_path


def test_examples_match_st(stsb_folder: Path, st_readers, assert_same_examples) -> None:
    examples = STSBenchmarkDataReader(stsb_folder).get_examples("sts-dev.csv")
    assert_same_examples(examples, st_readers.STSBenchmarkDataReader(str(stsb_folder)).get_examples("sts-dev.csv"))
    assert len(examples) == 120
    assert isinstance(STSBenchmarkDataReader(stsb_folder), STSDataReader)


def test_scores_are_the_normalized_gold_scores(shared_data: Path, stsb_folder: Path) -> None:
    with (shared_data / "stsb" / "validation.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))[:120]
    examples = STSBenchmarkDataReader(stsb_folder).get_examples("sts-dev.csv")
    assert [example.texts for example in examples] == [[row["sentence1"], row["sentence2"]] for row in rows]
    assert [example.label for example in examples] == pytest.approx([float(row["score"]) for row in rows])
