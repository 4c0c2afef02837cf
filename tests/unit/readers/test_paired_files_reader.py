"""PairedFilesReader: same examples as sentence-transformers' on Tatoeba sentences split into two files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from embedforge.readers import PairedFilesReader


@pytest.fixture
def paired_files(shared_data: Path, tmp_path: Path) -> list[str]:
    """English (plain, 50 lines) and German (gzip, 60 lines) sides of Tatoeba deu-eng."""
    rows = [line.split("\t") for line in (shared_data / "tatoeba" / "deu-eng.tsv").read_text("utf-8").splitlines()]
    english, german = tmp_path / "eng.txt", tmp_path / "deu.txt.gz"
    english.write_text("".join(f"{row[0]}\n" for row in rows[1:51]), encoding="utf-8")
    with gzip.open(german, "wt", encoding="utf-8") as out:
        out.writelines(f"{row[1]}\n" for row in rows[1:61])
    return [str(english), str(german)]


def test_examples_match_st(paired_files: list[str], st_readers, assert_same_examples) -> None:
    examples = PairedFilesReader(paired_files).get_examples()
    assert_same_examples(examples, st_readers.PairedFilesReader(paired_files).get_examples())
    assert len(examples) == 50  # stops with the shorter file
    assert examples[3].guid == "3"
    assert examples[3].label == 1
    assert len(examples[3].texts) == 2


def test_max_examples_and_path_objects(paired_files: list[str], st_readers, assert_same_examples) -> None:
    ours = PairedFilesReader([Path(path) for path in reversed(paired_files)]).get_examples(max_examples=4)
    assert_same_examples(ours, st_readers.PairedFilesReader(paired_files[::-1]).get_examples(max_examples=4))
