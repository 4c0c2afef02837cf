"""NLIDataReader: same examples as sentence-transformers' on SNLI/MultiNLI pairs in the s1/s2/labels layout."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from embedforge.readers import NLIDataReader

NAMES = {"0": "entailment", "1": "neutral", "2": "contradiction"}


@pytest.fixture
def nli_folder(shared_data: Path, tmp_path: Path) -> Path:
    """The first 100 validation pairs written as ``s1.dev.gz``, ``s2.dev.gz`` and ``labels.dev.gz``."""
    with gzip.open(shared_data / "nli" / "pair-class" / "validation.csv.gz", "rt", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))[:100]
    columns = {"s1": "premise", "s2": "hypothesis"}
    for prefix, column in columns.items():
        with gzip.open(tmp_path / f"{prefix}.dev.gz", "wt", encoding="utf-8") as out:
            out.writelines(f"{row[column]}\n" for row in rows)
    with gzip.open(tmp_path / "labels.dev.gz", "wt", encoding="utf-8") as out:
        out.writelines(f"{NAMES[row['label']].upper()} \n" for row in rows)  # case and spaces are ignored
    return tmp_path


def test_examples_match_st(nli_folder: Path, st_readers, assert_same_examples) -> None:
    ours, theirs = NLIDataReader(nli_folder), st_readers.NLIDataReader(str(nli_folder))
    examples = ours.get_examples("dev.gz")
    assert_same_examples(examples, theirs.get_examples("dev.gz"))
    assert len(examples) == 100
    assert examples[0].guid == "dev.gz-0"
    assert_same_examples(ours.get_examples("dev.gz", max_examples=3), theirs.get_examples("dev.gz", max_examples=3))


def test_labels_match_st(st_readers) -> None:
    ours, theirs = NLIDataReader("unused"), st_readers.NLIDataReader("unused")
    assert ours.get_labels() == theirs.get_labels() == {"contradiction": 0, "entailment": 1, "neutral": 2}
    assert ours.get_num_labels() == theirs.get_num_labels() == 3
    assert ours.map_label(" Neutral\n") == 2
    with pytest.raises(KeyError):
        ours.map_label("maybe")
