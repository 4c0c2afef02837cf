"""``retrieve``, ``rerank`` and ``ranking_metrics``: orders against direct computation, metrics by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from embedforge import SentenceTransformer
from embedforge.cross_encoder import CrossEncoder
from embedforge.cross_encoder.retrieve_rerank import RankedHit, ranking_metrics, rerank, retrieve

CORPUS = {
    "d1": "A man is playing a guitar outside.",
    "d2": "A dog runs on the beach near the water.",
    "d3": "Two children eat food in the park.",
    "d4": "An old woman sits near a red table.",
    "d5": "The car is in the street.",
}
QUERIES = {"q1": "who plays music?", "q2": "where is the dog?"}


def test_retrieve_orders_by_the_bi_encoder_similarity(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    hits = retrieve(model, QUERIES, CORPUS, top_k=3)
    documents = model.encode(list(CORPUS.values()), convert_to_tensor=True)
    for query_id, query in QUERIES.items():
        scores = model.similarity(model.encode([query], convert_to_tensor=True), documents)[0].numpy()
        expected = [list(CORPUS)[index] for index in np.argsort(-scores, kind="stable")[:3]]
        assert [hit.corpus_id for hit in hits[query_id]] == expected
        assert [hit.retrieval_rank for hit in hits[query_id]] == [1, 2, 3]
        np.testing.assert_allclose([hit.score for hit in hits[query_id]], np.sort(scores)[::-1][:3], atol=1e-6)


def test_rerank_sorts_the_head_and_keeps_the_tail(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    retrieved = {
        query_id: [RankedHit(doc_id, 0.0, 0.0, rank) for rank, doc_id in enumerate(CORPUS, 1)] for query_id in QUERIES
    }
    reranked = rerank(model, QUERIES, CORPUS, retrieved, rerank_k=3)
    for query_id, query in QUERIES.items():
        head = list(CORPUS)[:3]
        scores = model.predict([(query, CORPUS[doc_id]) for doc_id in head])
        expected = [head[index] for index in np.argsort(-scores, kind="stable")]
        assert [hit.corpus_id for hit in reranked[query_id]] == [*expected, "d4", "d5"]
        np.testing.assert_allclose([hit.score for hit in reranked[query_id][:3]], np.sort(scores)[::-1], atol=1e-6)
        assert [hit.retrieval_rank for hit in reranked[query_id][3:]] == [4, 5]


def test_ranking_metrics_by_hand() -> None:
    rankings = {
        "q1": [RankedHit("a", 3.0), RankedHit("b", 2.0), RankedHit("c", 1.0)],
        "q2": [RankedHit("x", 1.0), RankedHit("y", 0.5)],
        "q3": [RankedHit("z", 1.0)],
    }
    relevant = {"q1": {"b", "c"}, "q2": {"x"}}
    metrics = ranking_metrics(rankings, relevant)
    ndcg_q1 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics["ndcg@10"] == pytest.approx((ndcg_q1 + 1.0) / 2)
    assert metrics["mrr@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert metrics["map@100"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1) / 2)
    assert metrics["recall@100"] == pytest.approx(1.0)


def test_ranking_metrics_needs_a_judged_query() -> None:
    with pytest.raises(ValueError, match="at least one ranked query with relevant documents"):
        ranking_metrics({"q1": [RankedHit("a", 1.0)]}, {"q2": {"a"}})
