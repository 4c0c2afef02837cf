"""Fixtures for the legacy datasets: sentence-transformers' datasets and examples built from real data."""

from __future__ import annotations

import csv
from pathlib import Path
from types import ModuleType

import pytest

from embedforge.readers import InputExample


@pytest.fixture(scope="session")
def st_datasets() -> ModuleType:
    """``sentence_transformers.sentence_transformer.datasets`` (skips when it is not installed)."""
    return pytest.importorskip("sentence_transformers.sentence_transformer.datasets")


@pytest.fixture
def nli_triplet_rows(shared_data: Path) -> list[dict[str, str]]:
    """The first 300 NLI test triplets (anchors repeat over consecutive rows)."""
    with (shared_data / "nli" / "triplet" / "test.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))[:300]


@pytest.fixture
def trec_examples(shared_data: Path) -> list[InputExample]:
    """300 TREC questions labelled with their fine label id (many labels, some rare)."""
    with (shared_data / "trec" / "train.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))[:300]
    return [InputExample(guid=str(i), texts=[row["text"]], label=int(row["label"])) for i, row in enumerate(rows)]
