"""STSDataReader: same scored pairs as sentence-transformers' on STS benchmark sentences."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from embedforge.readers import STSDataReader


@pytest.fixture
def sts_folder(shared_data: Path, tmp_path: Path) -> Path:
    """STSb train pairs as ``sentence1<TAB>sentence2<TAB>raw_score`` in plain and gzip files."""
    with (shared_data / "stsb" / "train.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))[:150]
    lines = "".join(f"{row['sentence1']}\t{row['sentence2']}\t{row['raw_score']}\n" for row in rows)
    (tmp_path / "train.tsv").write_text(lines, encoding="utf-8")
    with gzip.open(tmp_path / "train.tsv.gz", "wt", encoding="utf-8") as out:
        out.write(lines)
    return tmp_path


@pytest.mark.parametrize("filename", ["train.tsv", "train.tsv.gz"])
def test_examples_match_st(sts_folder: Path, filename: str, st_readers, assert_same_examples) -> None:
    examples = STSDataReader(sts_folder).get_examples(filename)
    assert_same_examples(examples, st_readers.STSDataReader(str(sts_folder)).get_examples(filename))
    assert len(examples) == 150
    assert examples[0].guid == f"{filename}0"
    assert all(0.0 <= example.label <= 1.0 for example in examples)


def test_options_match_st(sts_folder: Path, st_readers, assert_same_examples) -> None:
    options = {"s1_col_idx": 1, "s2_col_idx": 0, "normalize_scores": False, "min_score": 1, "max_score": 4}
    ours = STSDataReader(sts_folder, **options).get_examples("train.tsv", max_examples=9)
    theirs = st_readers.STSDataReader(str(sts_folder), **options).get_examples("train.tsv", max_examples=9)
    assert_same_examples(ours, theirs)
    assert len(ours) == 9
    assert max(example.label for example in ours) > 1.0
    scaled = STSDataReader(sts_folder, min_score=1, max_score=4).get_examples("train.tsv", max_examples=9)
    assert [example.label for example in scaled] == pytest.approx([(e.label - 1) / 3 for e in ours])
