"""Small real datasets (slices of ../shared/data) and a tiny model for trainer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from embedforge import SentenceTransformer
from helpers import read_csv


@pytest.fixture
def stsb_pairs(shared_data: Path) -> Dataset:
    rows = read_csv(shared_data / "stsb" / "train.csv", 48)
    return Dataset.from_dict(
        {
            "sentence1": [r["sentence1"] for r in rows],
            "sentence2": [r["sentence2"] for r in rows],
            "score": [float(r["score"]) for r in rows],
        }
    )


@pytest.fixture
def caption_pairs(shared_data: Path) -> Dataset:
    rows = read_csv(shared_data / "flickr8k-captions" / "train_pairs.csv.gz", 40)
    return Dataset.from_dict({"anchor": [r["anchor"] for r in rows], "positive": [r["positive"] for r in rows]})


@pytest.fixture
def nli_pairs(shared_data: Path) -> Dataset:
    rows = read_csv(shared_data / "nli" / "pair-class" / "validation.csv.gz", 36)
    return Dataset.from_dict(
        {
            "premise": [r["premise"] for r in rows],
            "hypothesis": [r["hypothesis"] for r in rows],
            "label": [int(r["label"]) for r in rows],
        }
    )


@pytest.fixture
def tiny_model(tiny_bert_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_bert_path), device="cpu")
