"""Data files that are not valid UTF-8: the first bad byte is found, and every reader names the file and offset."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from embedforge.cli.encode import read_table, read_texts
from embedforge.config.data import DataError, load_data
from embedforge.config.recipe import DatasetSpec
from embedforge.data import utf8
from embedforge.data.utf8 import InvalidUtf8Error, Utf8Position, find_invalid_utf8, reading_utf8
from embedforge.evaluation.beir import load_beir

TEXT = "héllo wörld, ünïcode € 𝄞\n".encode()  # 1- to 4-byte sequences


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1 << 20])
def test_the_first_bad_byte_is_found_whatever_the_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(utf8, "_CHUNK", chunk)
    path = tmp_path / "data.txt"
    path.write_bytes(TEXT * 3)
    assert find_invalid_utf8(path) is None
    bad = TEXT * 2 + b"caf\xe9 latin-1\n"
    path.write_bytes(bad)
    expected = Utf8Position(offset=len(TEXT * 2) + 3, line=3, byte=0xE9)
    assert find_invalid_utf8(path) == expected
    with pytest.raises(UnicodeDecodeError) as caught:
        bad.decode("utf-8")
    assert caught.value.start == expected.offset  # Python's own decoder agrees on the offset


def test_a_file_cut_inside_a_sequence_is_invalid_at_its_start(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes(TEXT + "€".encode()[:2])
    assert find_invalid_utf8(path) == Utf8Position(offset=len(TEXT), line=2, byte=0xE2)


def test_a_gzipped_file_is_scanned_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(b"text\nok\n\xff\n"))
    error = InvalidUtf8Error(path, find_invalid_utf8(path))
    assert "byte 0xff at byte offset 8 of the decompressed content (line 3)" in str(error)


def test_reading_utf8_turns_a_decode_error_into_a_clear_one(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"fine\n" * 1000 + b"\x80bad\n")
    with pytest.raises(InvalidUtf8Error) as caught, reading_utf8(path), open(path, encoding="utf-8") as handle:
        handle.read()
    message = str(caught.value)
    assert str(path) in message and "byte offset 5000 (line 1001)" in message and "Re-save the file as UTF-8" in message
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("train.csv", b"sentence1,sentence2,score\na,b,0.5\nc\xff,d,1\n", "byte 0xff at byte offset 35 (line 3)"),
        ("train.tsv", b"sentence1\tsentence2\tscore\na\tb\t0.5\n\xfe\td\t1\n", "byte 0xfe at byte offset 34 (line 3)"),
        (
            "train.jsonl",
            b'{"a": "x", "score": 1}\n{"a": "\xe9t\xe9", "score": 1}\n',
            "byte 0xe9 at byte offset 30 (line 2)",
        ),
    ],
)
def test_recipe_data_files_name_the_file_and_offset(tmp_path: Path, name: str, content: bytes, where: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_data(DatasetSpec(path=str(path)), "train_datasets.sts")
    message = str(caught.value)
    assert message.startswith(f"train_datasets.sts: {path} is not valid UTF-8: ")
    assert where in message


def test_a_valid_jsonl_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"a": "héllo €", "score": 1}) + "\n", encoding="utf-8")
    assert load_data(DatasetSpec(path=str(path)))["a"] == ["héllo €"]


def test_encode_and_rank_inputs_name_the_file_and_offset(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_bytes(b"one\ntwo\n\xc3(\n")
    with pytest.raises(InvalidUtf8Error, match=r"texts.txt is not valid UTF-8: byte 0xc3 at byte offset 8 \(line 3\)"):
        read_texts(texts)
    table = tmp_path / "table.csv"
    table.write_bytes(b"text\nok\n\xa0\n")
    with pytest.raises(InvalidUtf8Error, match=r"at byte offset 8 \(line 3\)"):
        read_table(table)


def test_a_beir_folder_with_a_latin1_corpus(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_bytes(b'{"_id": "d0", "text": "caf\xe9"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q0", "text": "coffee"}\n', encoding="utf-8")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\n", encoding="utf-8")
    with pytest.raises(InvalidUtf8Error, match=r"corpus.jsonl is not valid UTF-8: byte 0xe9 at byte offset 26"):
        load_beir(tmp_path)
