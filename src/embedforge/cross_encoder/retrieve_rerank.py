"""Retrieve & re-rank: a bi-encoder finds each query's candidates, a cross-encoder reorders the best of them.

The documentation's recipe for search: the bi-encoder embeds the corpus once and scores every document of it cheaply
(:func:`retrieve`); the cross-encoder reads each (query, candidate) pair jointly, which is more accurate and far
slower, so it only scores the top candidates (:func:`rerank`). :func:`ranking_metrics` measures a ranking against
relevance judgments (the metrics of :class:`~embedforge.evaluation.InformationRetrievalEvaluator`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.model.sentence_transformer import SentenceTransformer

__all__ = ["RankedHit", "ranking_metrics", "rerank", "retrieve"]


@dataclass(frozen=True)
class RankedHit:
    """One document of a query's ranking.

    Attributes:
        corpus_id: The document's id.
        score: The score it is ranked by (the cross-encoder's after re-ranking, else the retriever's).
        retrieval_score: The retriever's score (None when there was no retriever).
        retrieval_rank: Its 1-based rank in the retrieval (None when there was no retriever).
    """

    corpus_id: str
    score: float
    retrieval_score: float | None = None
    retrieval_rank: int | None = None


def retrieve(
    model: SentenceTransformer | None,
    queries: Mapping[str, str],
    corpus: Mapping[str, str],
    top_k: int = 100,
    batch_size: int = 32,
    show_progress_bar: bool = False,
) -> dict[str, list[RankedHit]]:
    """Each query's ``top_k`` documents by the bi-encoder's similarity (exact search).

    Queries go through ``encode_query`` and documents through ``encode_document`` (the model's prompts apply); the
    score is the model's ``similarity``. Without a model every document is a candidate, in corpus order, score 0.

    Args:
        model: The bi-encoder, or None.
        queries: Query id → text.
        corpus: Document id → text.
        top_k: Candidates per query.
        batch_size: Texts per forward pass.
        show_progress_bar: Show encoding progress.

    Returns:
        Query id → its candidates, best first.
    """
    corpus_ids = list(corpus)
    if model is None:
        return {query_id: [RankedHit(doc_id, 0.0) for doc_id in corpus_ids] for query_id in queries}
    from embedforge.util.search import semantic_search

    documents = model.encode_document(
        [corpus[doc_id] for doc_id in corpus_ids],
        batch_size=batch_size,
        convert_to_tensor=True,
        show_progress_bar=show_progress_bar,
    )
    query_ids = list(queries)
    embedded = model.encode_query(
        [queries[query_id] for query_id in query_ids],
        batch_size=batch_size,
        convert_to_tensor=True,
        show_progress_bar=show_progress_bar,
    )
    hits = semantic_search(embedded, documents, top_k=top_k, score_function=model.similarity)
    return {
        query_id: [
            RankedHit(corpus_ids[hit["corpus_id"]], float(hit["score"]), float(hit["score"]), rank)
            for rank, hit in enumerate(query_hits, start=1)
        ]
        for query_id, query_hits in zip(query_ids, hits, strict=True)
    }


def rerank(
    model: CrossEncoder,
    queries: Mapping[str, str],
    corpus: Mapping[str, str],
    retrieved: Mapping[str, Sequence[RankedHit]],
    rerank_k: int = 100,
    batch_size: int = 32,
    show_progress_bar: bool = False,
) -> dict[str, list[RankedHit]]:
    """Reorder each query's first ``rerank_k`` candidates by the cross-encoder's score.

    The pairs of all queries are scored in one ``predict`` call (batched by token length across queries).
    Candidates past ``rerank_k`` keep their retrieval order after the re-ranked ones.

    Args:
        model: The cross-encoder (one label).
        queries: Query id → text.
        corpus: Document id → text.
        retrieved: Query id → candidates from :func:`retrieve`.
        rerank_k: Candidates re-ranked per query.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show scoring progress.

    Returns:
        Query id → the re-ranked candidates, best first (``score`` is the cross-encoder's for re-ranked ones).
    """
    heads = {query_id: list(hits[:rerank_k]) for query_id, hits in retrieved.items()}
    pairs = [(queries[query_id], corpus[hit.corpus_id]) for query_id, hits in heads.items() for hit in hits]
    scores = model.predict(pairs, batch_size=batch_size, show_progress_bar=show_progress_bar) if pairs else []
    reranked, start = {}, 0
    for query_id, hits in heads.items():
        query_scores = np.asarray(scores[start : start + len(hits)], dtype=np.float64)
        start += len(hits)
        order = np.argsort(-query_scores, kind="stable")
        head = [replace(hits[index], score=float(query_scores[index])) for index in order]
        reranked[query_id] = head + list(retrieved[query_id][rerank_k:])
    return reranked


def ranking_metrics(
    rankings: Mapping[str, Sequence[RankedHit]], relevant_docs: Mapping[str, set[str]]
) -> dict[str, float]:
    """NDCG@10, MRR@10, MAP@100 and Recall@100 of the judged queries' rankings.

    Args:
        rankings: Query id → ranking, best first.
        relevant_docs: Query id → ids of its relevant documents (queries without any are left out).

    Returns:
        ``{"ndcg@10", "mrr@10", "map@100", "recall@100"}``.
    """
    from embedforge.evaluation import ir_metrics

    judged = [query_id for query_id in rankings if relevant_docs.get(query_id)]
    if not judged:
        raise ValueError("ranking_metrics needs at least one ranked query with relevant documents; none was found.")
    ranked = [[hit.corpus_id for hit in rankings[query_id]] for query_id in judged]
    relevant = [relevant_docs[query_id] for query_id in judged]
    hits = ir_metrics.hit_matrix(ranked, relevant, 100)
    counts = np.array([len(docs) for docs in relevant])
    return {
        "ndcg@10": ir_metrics.ndcg_at_k(hits, counts, 10),
        "mrr@10": ir_metrics.mrr_at_k(hits, 10),
        "map@100": ir_metrics.average_precision_at_k(hits, counts, 100),
        "recall@100": ir_metrics.recall_at_k(hits, counts, 100),
    }
