"""Loading DatasetSpecs: file formats, folders, BEIR qrels pairs, row/column shaping and clear errors."""

from __future__ import annotations

import gzip
import json

import pytest

from embedforge.config import DatasetSpec
from embedforge.config.data import DataError, load_data, resolve_format
from unit.config.recipe_helpers import sts_rows, write_beir, write_csv


@pytest.fixture
def rows():
    return sts_rows(10)


def test_csv_with_where_rename_columns_and_limit(tmp_path, rows):
    rows[0]["genre"] = "other"
    path = write_csv(tmp_path / "train.csv", rows)
    spec = DatasetSpec(
        path=str(path),
        where={"genre": "toy"},
        rename={"sentence1": "anchor"},
        columns=["sentence2", "anchor", "score"],
        limit=5,
    )
    dataset = load_data(spec)
    assert dataset.column_names == ["sentence2", "anchor", "score"]
    assert len(dataset) == 5
    assert dataset[0]["anchor"] == rows[1]["sentence1"]


def test_tsv_jsonl_gz_and_parquet(tmp_path, rows):
    tsv = tmp_path / "a.tsv"
    tsv.write_text("s1\ts2\n" + "".join(f'{r["sentence1"]}\t"{r["sentence2"]}"\n' for r in rows), encoding="utf-8")
    assert load_data(DatasetSpec(path=str(tsv)))[0]["s2"] == f'"{rows[0]["sentence2"]}"'  # no quoting in TSV
    jsonl = tmp_path / "b.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    assert len(load_data(DatasetSpec(path=str(jsonl)))) == 10
    parquet = tmp_path / "c.parquet"
    load_data(DatasetSpec(path=str(jsonl))).to_parquet(str(parquet))
    assert load_data(DatasetSpec(path=str(parquet), columns=["score"]))["score"][:2] == [r["score"] for r in rows[:2]]


def test_folder_picks_the_split_file(tmp_path, rows):
    write_csv(tmp_path / "train.csv", rows)
    write_csv(tmp_path / "test.csv", rows[:3])
    assert len(load_data(DatasetSpec(path=str(tmp_path), split="test"))) == 3
    assert len(load_data(DatasetSpec(path=str(tmp_path), split="train"))) == 10


def test_beir_pairs(tmp_path):
    folder = write_beir(tmp_path / "beir")
    dataset = load_data(DatasetSpec(path=str(folder), format="beir_pairs", split="train"))
    assert dataset.column_names == ["query", "positive"]
    assert len(dataset) == 3
    assert dataset[0]["positive"].startswith("doc ")  # title + text


def test_formats_and_hub_ids(tmp_path):
    assert resolve_format(DatasetSpec(path="sentence-transformers/stsb")) == "hub"
    assert resolve_format(DatasetSpec(path="owner/name", format="hub")) == "hub"
    with pytest.raises(DataError, match="does not exist"):
        resolve_format(DatasetSpec(path=str(tmp_path / "missing.csv")))
    with pytest.raises(DataError, match="unknown format 'xml'"):
        resolve_format(DatasetSpec(path="x", format="xml"))
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="cannot tell the format"):
        resolve_format(DatasetSpec(path=str(tmp_path / "notes.txt")))


def test_missing_columns_name_the_available_ones(tmp_path, rows):
    path = write_csv(tmp_path / "train.csv", rows)
    with pytest.raises(DataError, match=r"\['premise'\] not in the data; its columns are \['sentence1'"):
        load_data(DatasetSpec(path=str(path), columns=["premise", "score"]), "train_datasets.x")
