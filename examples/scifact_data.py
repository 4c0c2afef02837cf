"""SciFact as the retrieve & re-rank examples use it: its judged claims, and a smaller corpus for quick runs.

Shared by ``examples/retrieve_rerank_scifact.py`` and ``examples/ce_distillation.py`` (run from anywhere: the
scripts import this module from their own folder).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any


def judged_ids(data: Any, limit: int | None = None) -> list[str]:
    """The ids of the claims that have relevant abstracts in ``data``'s qrels, in file order (the first ``limit``)."""
    return [query_id for query_id in data.queries if data.relevant_docs.get(query_id)][:limit]


def load_scifact(folder: Path, split: str, queries: int | None = None, corpus_docs: int | None = None) -> Any:
    """The SciFact ``split`` (``RetrievalData``); with ``corpus_docs``, a smaller corpus for quick runs.

    Args:
        folder: The SciFact BEIR folder.
        split: ``train`` or ``test`` (the qrels file).
        queries: With ``corpus_docs``: keep the abstracts judged for the first ``queries`` claims.
        corpus_docs: Also keep the first N abstracts of the corpus; None keeps the whole corpus (5,183).
    """
    from embedforge.evaluation.beir import load_beir

    data = load_beir(folder, split=split)
    if corpus_docs is None:
        return data
    judged = set().union(*(data.relevant_docs[query_id] for query_id in judged_ids(data, queries)))
    keep = judged | set(list(data.corpus)[:corpus_docs])
    return replace(data, corpus={doc_id: text for doc_id, text in data.corpus.items() if doc_id in keep})


def judged_pairs(data: Any, limit: int | None, document_column: str) -> tuple[list[tuple[str, str]], Any]:
    """Every (claim, judged abstract) of the first ``limit`` judged claims, as ids and as a ``datasets.Dataset``.

    Returns:
        ``[(query_id, doc_id), ...]`` and a Dataset with columns ``query`` and ``document_column`` (the texts), in
        the same order.
    """
    from datasets import Dataset

    pairs = [
        (query_id, doc_id) for query_id in judged_ids(data, limit) for doc_id in sorted(data.relevant_docs[query_id])
    ]
    dataset = Dataset.from_dict(
        {
            "query": [data.queries[query_id] for query_id, _ in pairs],
            document_column: [data.corpus[doc_id] for _, doc_id in pairs],
        }
    )
    return pairs, dataset
