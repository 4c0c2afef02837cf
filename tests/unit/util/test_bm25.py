"""BM25: Lucene's Okapi BM25 against hand-computed values and a plain-Python reference."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from embedforge.util.bm25 import BM25, simple_tokenize

CORPUS = ["a cat sat", "a dog ran", "the cat ran far"]


def _reference(corpus: list[str], query: str, k1: float, b: float) -> list[float]:
    """The textbook formula, one document and one query token at a time."""
    documents = [simple_tokenize(text) for text in corpus]
    average = sum(len(document) for document in documents) / len(documents)
    scores = []
    for document in documents:
        counts, total = Counter(document), 0.0
        for token in simple_tokenize(query):
            n = sum(token in other for other in documents)
            idf = math.log(1 + (len(documents) - n + 0.5) / (n + 0.5))
            tf = counts[token]
            total += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(document) / average))
        scores.append(total)
    return scores


def test_scores_match_a_hand_computed_value() -> None:
    scores = BM25(CORPUS).scores(["cat ran"])
    # "cat" and "ran" are each in 2 of 3 documents: idf = ln(1 + 1.5 / 2.5) = ln 1.6. Document 2 has 4 tokens
    # (average 10/3): K = 1.2 * (0.25 + 0.75 * 4 / (10/3)) = 1.38, each token adds ln 1.6 * 2.2 / 2.38.
    expected_last = 2 * math.log(1.6) * 2.2 / 2.38
    assert scores.shape == (1, 3)
    assert scores[0, 2] == pytest.approx(expected_last, rel=1e-12)
    assert scores[0, 2] == pytest.approx(0.868914, abs=1e-6)
    assert scores[0, 0] == pytest.approx(math.log(1.6) * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 0.9)), rel=1e-12)


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (1.5, 0.0), (0.9, 1.0)])
def test_scores_match_the_reference_formula(k1: float, b: float) -> None:
    rng = np.random.default_rng(3)
    words = ["w" + str(index) for index in range(12)]
    corpus = [" ".join(rng.choice(words, size=rng.integers(1, 9))) for _ in range(20)]
    queries = ["w1 w2 w2 w11", "w0", "nothing here", "W3 w4, w5!"]
    scores = BM25(corpus, k1=k1, b=b).scores(queries)
    for row, query in zip(scores, queries, strict=True):
        np.testing.assert_allclose(row, _reference(corpus, query, k1, b), rtol=1e-12, atol=1e-15)


def test_top_k_orders_by_score_and_drops_non_matches() -> None:
    bm25 = BM25(CORPUS)
    hits = bm25.top_k(["cat ran", "dog", "zebra"], k=2, chunk_size=2)
    assert [index for index, _ in hits[0]] == [2, 0]  # ties between documents 0 and 1 broken by index
    assert [index for index, _ in hits[1]] == [1]  # only one document holds "dog"
    assert hits[2] == []
    assert hits[0][0][1] == pytest.approx(bm25.scores(["cat ran"])[0, 2])


def test_tokenizer_and_empty_corpus() -> None:
    assert simple_tokenize("It's 2 A.M.") == ["it", "s", "2", "a", "m"]
    with pytest.raises(ValueError, match="non-empty corpus"):
        BM25([])
