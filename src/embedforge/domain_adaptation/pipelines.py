"""GenQ and GPL training data: synthetic queries for an unlabeled corpus, hard negatives, cross-encoder margins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from datasets import Dataset

    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.domain_adaptation.query_generator import QueryGenerator
    from embedforge.model.sentence_transformer import SentenceTransformer

__all__ = ["genq_pairs", "gpl_triplets"]


def genq_pairs(
    corpus: Sequence[str] | Mapping[str, str],
    generator: QueryGenerator,
    num_queries: int = 3,
    batch_size: int = 16,
    seed: int | None = None,
) -> Dataset:
    """GenQ's training pairs: ``num_queries`` generated queries per passage, one ``(query, passage)`` row each.

    Train a bi-encoder on them with ``MultipleNegativesRankingLoss`` (the other rows' passages are the negatives).

    Args:
        corpus: The passages (a list, or id → text as in BEIR corpora).
        generator: The query generator.
        num_queries: Queries sampled per passage (duplicates dropped).
        batch_size: Passages per generation call.
        seed: Seed for reproducible sampling.

    Returns:
        A ``datasets.Dataset`` with columns ``query`` and ``passage``.
    """
    from datasets import Dataset

    passages = list(corpus.values()) if isinstance(corpus, Mapping) else list(corpus)
    queries = generator.generate(passages, num_queries=num_queries, batch_size=batch_size, seed=seed)
    rows = [(query, passage) for passage, group in zip(passages, queries, strict=True) for query in group]
    return Dataset.from_dict({"query": [row[0] for row in rows], "passage": [row[1] for row in rows]})


def gpl_triplets(
    pairs: Dataset,
    corpus: Sequence[str] | Mapping[str, str],
    retriever: SentenceTransformer,
    cross_encoder: CrossEncoder,
    num_negatives: int = 1,
    range_max: int = 50,
    batch_size: int = 32,
) -> Dataset:
    """GPL's training data: for each (query, passage), negatives retrieved by ``retriever``, labelled by a teacher.

    Steps (Wang et al., 2022): mine ``num_negatives`` negatives per query at random among the ``range_max`` passages
    the retriever ranks highest (the query's own passage excluded), then label each triplet with the cross-encoder's
    margin ``CE(query, passage) - CE(query, negative)`` on raw logits. Train with ``MarginMSELoss``.

    Args:
        pairs: Rows with ``query`` and ``passage`` columns (e.g. from :func:`genq_pairs`).
        corpus: All passages negatives may come from.
        retriever: The bi-encoder that retrieves candidate negatives (e.g. the model being adapted, or
            ``msmarco-distilbert-base-v3`` as in GPL).
        cross_encoder: The teacher (e.g. ``cross-encoder/ms-marco-MiniLM-L6-v2``).
        num_negatives: Negatives per query; each becomes its own row.
        range_max: Negatives are drawn from this many top-ranked passages.
        batch_size: Batch size of retrieval and scoring.

    Returns:
        A ``datasets.Dataset`` with columns ``query``, ``positive``, ``negative`` and ``label`` (the margin).
    """
    from datasets import Dataset

    from embedforge.util.hard_negatives import mine_hard_negatives

    passages = list(corpus.values()) if isinstance(corpus, Mapping) else list(corpus)
    mined = mine_hard_negatives(
        pairs.select_columns(["query", "passage"]),
        retriever,
        anchor_column_name="query",
        positive_column_name="passage",
        corpus=passages,
        range_max=range_max,
        num_negatives=num_negatives,
        sampling_strategy="random",
        output_format="triplet",
        batch_size=batch_size,
        verbose=False,
    )
    queries, positives, negatives = mined["query"], mined["passage"], mined["negative"]
    identity = torch.nn.Identity()
    positive_scores = cross_encoder.predict(
        list(zip(queries, positives, strict=True)), batch_size=batch_size, activation_fn=identity
    )
    negative_scores = cross_encoder.predict(
        list(zip(queries, negatives, strict=True)), batch_size=batch_size, activation_fn=identity
    )
    margins = [float(pos) - float(neg) for pos, neg in zip(positive_scores, negative_scores, strict=True)]
    return Dataset.from_dict({"query": queries, "positive": positives, "negative": negatives, "label": margins})
