"""Small real datasets (slices of ../shared/data) and a tiny model for trainer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from embedforge import SentenceTransformer
from helpers import caption_pairs as caption_pairs_dataset
from helpers import read_csv, stsb_scored


@pytest.fixture
def stsb_pairs(shared_data: Path) -> Dataset:
    return stsb_scored(shared_data, 48)


@pytest.fixture
def caption_pairs(shared_data: Path) -> Dataset:
    return caption_pairs_dataset(shared_data, 40)


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
