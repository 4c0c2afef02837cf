"""Fixtures for the evaluator tests: all-MiniLM-L6-v2 loaded by embedforge and by sentence-transformers, and
small slices of real STS and NLI data.

Both models get a memoizing ``encode``: a call with exactly the same arguments as an earlier one returns a copy
of that earlier result instead of running the model again. The evaluators still call ``encode`` with their own
arguments; only repeated identical calls (the same texts, batch size, precision, truncation...) across test cases
are served from memory, which keeps the parity tests within the time budget on a shared CPU.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import NLI_FULL, STS_FULL


def _memoize_encode(model: Any) -> Any:
    original = model.encode
    cache: dict[str, Any] = {}

    def encode(*args: Any, **kwargs: Any) -> Any:
        key = repr((args, sorted(kwargs.items())))
        if key not in cache:
            cache[key] = original(*args, **kwargs)
        result = cache[key]
        return result.copy() if isinstance(result, np.ndarray) else result

    model.encode = encode
    return model


@pytest.fixture(scope="session")
def our_model(minilm_path: Path) -> Any:
    from embedforge import SentenceTransformer

    return _memoize_encode(SentenceTransformer(str(minilm_path), device="cpu"))


@pytest.fixture(scope="session")
def st_model(minilm_path: Path) -> Any:
    st = pytest.importorskip("sentence_transformers")
    return _memoize_encode(st.SentenceTransformer(str(minilm_path), device="cpu"))


@pytest.fixture(scope="session")
def st_evaluation() -> Any:
    """``sentence_transformers.sentence_transformer.evaluation`` (imported only by tests that need it)."""
    pytest.importorskip("sentence_transformers")
    from sentence_transformers.sentence_transformer import evaluation

    return evaluation


def _read_rows(path: Path, count: int) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return [row for _, row in zip(range(count), reader, strict=False)]


@pytest.fixture(scope="session")
def sts_rows(shared_data: Path) -> list[dict[str, str]]:
    """The first STS_FULL rows of the STS benchmark test set (sentence1, sentence2, score in 0..1)."""
    return _read_rows(shared_data / "stsb" / "test.csv", STS_FULL)


@pytest.fixture(scope="session")
def nli_rows(shared_data: Path) -> list[dict[str, str]]:
    """The first NLI_FULL (anchor, positive, negative) rows of the SNLI test triplets."""
    return _read_rows(shared_data / "nli" / "triplet" / "test.csv", NLI_FULL)
