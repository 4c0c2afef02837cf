"""TripletReader: same triplets as sentence-transformers' on NLI (anchor, positive, negative) rows."""

from __future__ import annotations

import csv
import gzip
import shutil
from pathlib import Path

import pytest

from embedforge.readers import TripletReader


@pytest.fixture
def triplet_folder(shared_data: Path, tmp_path: Path) -> Path:
    """NLI test triplets: the original CSV (header, quoting) and a tab-separated copy without header."""
    shutil.copy(shared_data / "nli" / "triplet" / "test.csv", tmp_path / "test.csv")
    with (tmp_path / "test.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))[1:101]
    lines = "".join("\t".join(row) + "\n" for row in rows)
    (tmp_path / "test.tsv").write_text(lines, encoding="utf-8")
    with gzip.open(tmp_path / "test.tsv.gz", "wt", encoding="utf-8") as out:
        out.write(lines)
    return tmp_path


def test_tab_separated_examples_match_st(triplet_folder: Path, st_readers, assert_same_examples) -> None:
    examples = TripletReader(triplet_folder).get_examples("test.tsv")
    assert_same_examples(examples, st_readers.TripletReader(str(triplet_folder)).get_examples("test.tsv"))
    assert len(examples) == 100
    assert (examples[0].guid, examples[0].label, len(examples[0].texts)) == ("", 0, 3)
    assert_same_examples(TripletReader(triplet_folder).get_examples("test.tsv.gz"), examples)  # ST reads no gzip


def test_csv_with_header_and_columns_match_st(triplet_folder: Path, st_readers, assert_same_examples) -> None:
    options = {"has_header": True, "delimiter": ",", "quoting": csv.QUOTE_MINIMAL, "s1_col_idx": 2, "s3_col_idx": 0}
    ours = TripletReader(triplet_folder, **options).get_examples("test.csv", max_examples=25)
    theirs = st_readers.TripletReader(str(triplet_folder), **options).get_examples("test.csv", max_examples=25)
    assert_same_examples(ours, theirs)
    assert len(ours) == 25
    assert ours[0].texts[0] != "negative"  # the header was skipped
