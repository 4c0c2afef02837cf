"""Datasets for the batch-sampler tests, and sentence-transformers' sampler module to compare with."""

from __future__ import annotations

import csv
from pathlib import Path
from types import ModuleType

import pytest

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="session")
def st_sampler() -> ModuleType:
    """``sentence_transformers.base.sampler`` (the reference implementation)."""
    return pytest.importorskip("sentence_transformers.base.sampler")


@pytest.fixture(scope="session")
def stsb_train(shared_data: Path) -> datasets.Dataset:
    """The STSb training pairs (5,749 rows; some sentences repeat) with their ``score`` label."""
    with (shared_data / "stsb" / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return datasets.Dataset.from_dict(
        {
            "sentence1": [row["sentence1"] for row in rows],
            "sentence2": [row["sentence2"] for row in rows],
            "score": [float(row["score"]) for row in rows],
        }
    )


@pytest.fixture(scope="session")
def repetitive_pairs() -> datasets.Dataset:
    """240 (anchor, positive, label) rows drawn from only 30 texts, so most rows clash with others."""
    texts = [f"sentence number {i}" for i in range(30)]
    return datasets.Dataset.from_dict(
        {
            "anchor": [texts[(7 * i) % 30] for i in range(240)],
            "positive": [texts[(11 * i + 3) % 30] for i in range(240)],
            "label": [i % 2 for i in range(240)],
        }
    )


@pytest.fixture(scope="session")
def three_datasets() -> list[datasets.Dataset]:
    """Three (anchor, positive) datasets of 103, 250 and 37 rows, with repeated texts, to concatenate."""
    texts = [f"text {i % 40}" for i in range(300)]
    return [
        datasets.Dataset.from_dict({"anchor": texts[:103], "positive": texts[5:108]}),
        datasets.Dataset.from_dict({"anchor": texts[:250], "positive": texts[50:300]}),
        datasets.Dataset.from_dict({"anchor": texts[:37], "positive": texts[1:38]}),
    ]
