"""The data side of ``embedforge rank``: reading queries and documents, and writing rankings."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.cross_encoder.retrieve_rerank import RankedHit
    from embedforge.model.sentence_transformer import SentenceTransformer

RUN_NAME = "embedforge"
"""The run-name column of TREC run files."""


@dataclass
class RankingData:
    """Queries, documents and (optionally) relevance judgments.

    Attributes:
        queries: Query id → text.
        corpus: Document id → text.
        relevant_docs: Query id → relevant document ids (empty without judgments).
        query_ids: The queries to rank, in order.
    """

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant_docs: dict[str, set[str]] = field(default_factory=dict)
    query_ids: list[str] = field(default_factory=list)


def beir_data(folder: Path, split: str, limit: int | None) -> RankingData:
    """The judged queries of a BEIR folder's ``qrels/<split>.tsv`` (the first ``limit``), with the whole corpus."""
    from embedforge.evaluation.beir import load_beir

    data = load_beir(folder, split=split)
    judged = [query_id for query_id in data.queries if data.relevant_docs.get(query_id)][:limit]
    return RankingData(
        queries={query_id: data.queries[query_id] for query_id in judged},
        corpus=data.corpus,
        relevant_docs={query_id: data.relevant_docs[query_id] for query_id in judged},
        query_ids=judged,
    )


def file_data(queries_path: Path, corpus_path: Path, column: str | None, limit: int | None) -> RankingData:
    """Queries and documents from text files (one per line) or table columns; ids are their 0-based positions."""
    from embedforge.cli.encode import read_texts

    queries = read_texts(queries_path, column)[:limit]
    corpus = read_texts(corpus_path, column)
    if not queries or not corpus:
        empty = queries_path if not queries else corpus_path
        raise ValueError(f"{empty} holds no texts; give one text per line (or a table with a text column).")
    return RankingData(
        queries={str(index): text for index, text in enumerate(queries)},
        corpus={str(index): text for index, text in enumerate(corpus)},
        query_ids=[str(index) for index in range(len(queries))],
    )


def retrieve(
    model: SentenceTransformer | None, data: RankingData, top_k: int, batch_size: int, progress: bool
) -> dict[str, list[RankedHit]]:
    """Each query's candidates (see :func:`embedforge.cross_encoder.retrieve_rerank.retrieve`)."""
    from embedforge.cross_encoder.retrieve_rerank import retrieve as retrieve_hits

    queries = {query_id: data.queries[query_id] for query_id in data.query_ids}
    return retrieve_hits(model, queries, data.corpus, top_k, batch_size, progress)


def rerank(
    model: CrossEncoder,
    data: RankingData,
    retrieved: dict[str, list[RankedHit]],
    rerank_k: int,
    batch_size: int,
    progress: bool,
) -> dict[str, list[RankedHit]]:
    """The re-ranked candidates (see :func:`embedforge.cross_encoder.retrieve_rerank.rerank`)."""
    from embedforge.cross_encoder.retrieve_rerank import rerank as rerank_hits

    return rerank_hits(model, data.queries, data.corpus, retrieved, rerank_k, batch_size, progress)


def metrics(data: RankingData, rankings: dict[str, list[RankedHit]]) -> dict[str, float]:
    """NDCG@10, MRR@10, MAP@100 and Recall@100 against the judgments."""
    from embedforge.cross_encoder.retrieve_rerank import ranking_metrics

    return ranking_metrics(rankings, data.relevant_docs)


def write_rankings(
    path: Path, data: RankingData, retrieved: dict[str, list[RankedHit]], reranked: dict[str, list[RankedHit]]
) -> Path:
    """Write every query's re-ranked list: JSON lines, or a TREC run file for ``.tsv``/``.trec``.

    A JSON line holds ``query_id``, ``query`` and ``results`` (``corpus_id``, ``score``, ``retrieval_score``,
    ``retrieval_rank``, ``text``); a TREC line ``query-id Q0 doc-id rank score embedforge``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    del retrieved  # each re-ranked hit keeps its retrieval score and rank
    with open(path, "w", encoding="utf-8") as handle:
        for query_id in data.query_ids:
            hits = reranked[query_id]
            if path.suffix == ".jsonl":
                handle.write(json.dumps(_json_line(data, query_id, hits), ensure_ascii=False) + "\n")
            else:
                handle.writelines(
                    f"{query_id}\tQ0\t{hit.corpus_id}\t{rank}\t{hit.score:.6f}\t{RUN_NAME}\n"
                    for rank, hit in enumerate(hits, start=1)
                )
    return path


def _json_line(data: RankingData, query_id: str, hits: list[RankedHit]) -> dict[str, Any]:
    return {
        "query_id": query_id,
        "query": data.queries[query_id],
        "results": [{**asdict(hit), "text": data.corpus[hit.corpus_id]} for hit in hits],
    }
