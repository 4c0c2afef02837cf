"""Encoding with a multi-process pool gives the same embeddings, in the same order, as encoding in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedforge import SentenceTransformer

EXTRA = [
    "A cat sits on the table.",
    "People walk near the water.",
    "who plays music?",
    "The red car is on the street.",
    "A child eats.",
]


@pytest.fixture
def model(tiny_bert_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_bert_path), device="cpu")


@pytest.fixture
def texts(sentences: list[str]) -> list[str]:
    return sentences + EXTRA


def _check_same(actual: np.ndarray, expected: np.ndarray) -> None:
    assert isinstance(actual, np.ndarray)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6)


def test_pool_encode_matches_in_process_encode(model: SentenceTransformer, texts: list[str]) -> None:
    expected = model.encode(texts)
    # rows differ from each other, so a shuffled order could not pass the comparisons below
    assert len({row.tobytes() for row in expected}) == len(texts)
    pool = model.start_multi_process_pool(["cpu", "cpu"])
    try:
        assert len(pool.processes) == 2
        _check_same(model.encode(texts, pool=pool), expected)
        _check_same(model.encode(texts, pool=pool, chunk_size=2), expected)
        _check_same(model.encode(texts, pool=pool, chunk_size=len(texts) + 5), expected)
        single = model.encode(texts[2], pool=pool)
        np.testing.assert_allclose(single, expected[2], rtol=0, atol=1e-6)
        # a pool whose workers died reports it instead of waiting for results that never come
        for process in pool.processes:
            process.kill()
            process.join(timeout=10)
        with pytest.raises(RuntimeError, match="workers died"):
            model.encode(texts, pool=pool)
    finally:
        model.stop_multi_process_pool(pool)
    assert not any(process.is_alive() for process in pool.processes)


def test_device_list_starts_a_temporary_pool(model: SentenceTransformer, texts: list[str]) -> None:
    expected = model.encode(texts, normalize_embeddings=True)
    actual = model.encode(texts, device=["cpu", "cpu"], chunk_size=3, normalize_embeddings=True)
    _check_same(actual, expected)
