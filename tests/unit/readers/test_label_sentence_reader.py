"""LabelSentenceReader: same examples and label ids as sentence-transformers' on TREC questions."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from embedforge.readers import LabelSentenceReader


@pytest.fixture
def trec_folder(shared_data: Path, tmp_path: Path) -> Path:
    """TREC train and test as ``coarse_label<TAB>question`` files (the test one gzipped)."""
    for split, opener in (("train", open), ("test", gzip.open)):
        with (shared_data / "trec" / f"{split}.csv").open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))[:200]
        lines = "".join(f"{row['coarse_label']}\t{row['text']}\n" for row in rows)
        suffix = ".gz" if opener is gzip.open else ""
        with opener(tmp_path / f"{split}.tsv{suffix}", "wt", encoding="utf-8") as out:
            out.write(lines)
    return tmp_path


def test_examples_and_label_map_match_st(trec_folder: Path, st_readers, assert_same_examples) -> None:
    ours, theirs = LabelSentenceReader(trec_folder), st_readers.LabelSentenceReader(str(trec_folder))
    train = ours.get_examples("train.tsv")
    assert_same_examples(train, theirs.get_examples("train.tsv"))
    assert len(train) == 200
    assert ours.label_map == theirs.label_map
    assert set(ours.label_map.values()) == set(range(len(ours.label_map)))
    limited = ours.get_examples("train.tsv", max_examples=7)
    assert_same_examples(limited, theirs.get_examples("train.tsv", max_examples=7))
    assert [example.guid for example in limited] == [f"train.tsv-{i}" for i in range(7)]


def test_gzip_file_and_custom_columns(trec_folder: Path) -> None:
    reader = LabelSentenceReader(trec_folder, label_col_idx=1, sentence_col_idx=0)
    examples = reader.get_examples("test.tsv.gz", max_examples=5)
    assert len(examples) == 5
    assert all(example.texts[0] in {"DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"} for example in examples)
