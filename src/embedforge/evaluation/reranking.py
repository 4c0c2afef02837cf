"""RerankingEvaluator: how well a model ranks the relevant documents of a query above the irrelevant ones."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from embedforge.evaluation import reporting
from embedforge.evaluation.arguments import positive_int
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.inputs import encode_unique
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["RerankingEvaluator"]

logger = logging.getLogger(__name__)

Sample = dict[str, Any]
"""``{"query": str, "positive": list[str], "negative": list[str], ...}``."""


class RerankingEvaluator(SentenceEvaluator):
    """Rank each query's candidate documents by similarity; report MAP, MRR@k and NDCG@k.

    Queries are embedded with ``model.encode_query`` and documents with ``model.encode_document`` (so a model's
    ``query`` / ``document`` prompts apply), each distinct text once per role. Each query's positives and
    negatives are scored with ``similarity_fct`` and sorted by decreasing score. Metrics, for ``name="dev"`` and
    ``at_k=10``: ``dev_map``, ``dev_mrr@10`` and ``dev_ndcg@10`` (primary); means over the queries. Keys and
    values match sentence-transformers 6.2 (MAP and NDCG count tied scores as scikit-learn does).

    Samples without any positive or without any negative document are skipped, as sentence-transformers does
    (their metrics would be trivially 0 or 1); unlike it, a warning says how many were skipped.

    Args:
        samples: One dict per query, with ``"query"`` (a text), ``"positive"`` (relevant documents: a list of
            texts, or one text) and ``"negative"`` (irrelevant documents: the same). Other keys are kept and
            ignored. A dict of such samples is read as its values.
        at_k: Rank cut-off of MRR and NDCG (MAP uses the full ranking).
        name: Dataset name, prefixed to every metric key and to the CSV file name.
        write_csv: Append the results to ``RerankingEvaluator[_<name>]_results_@<at_k>.csv`` in the call's
            ``output_path``.
        similarity_fct: Scores of query embeddings ``(1, dim)`` against document embeddings ``(n, dim)``, shape
            ``(1, n)``; default cosine similarity.
        batch_size: Texts per forward pass.
        show_progress_bar: Show a progress bar while encoding (or over the samples, unbatched).
        use_batched_encoding: Embed all queries and all documents together (fast); False embeds sample by sample
            (less memory; a document shared by several samples is then embedded once per sample).
        truncate_dim: Keep the first dimensions of each embedding; default: the model's ``truncate_dim``.
        mrr_at_k: Deprecated name of ``at_k``; wins over it when given.

    Example:
        >>> samples = [{"query": "What do cats eat?", "positive": ["Cats eat mice."], "negative": ["Rome is old."]}]
        >>> evaluator = RerankingEvaluator(samples, name="dev")
        >>> evaluator(model)  # doctest: +SKIP
        {'dev_map': 1.0, 'dev_mrr@10': 1.0, 'dev_ndcg@10': 1.0}
    """

    config_keys: ClassVar[tuple[str, ...]] = ("at_k", "truncate_dim")

    def __init__(
        self,
        samples: Sequence[Mapping[str, Any]] | Mapping[Any, Mapping[str, Any]],
        at_k: int = 10,
        name: str = "",
        write_csv: bool = True,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        batch_size: int = 64,
        show_progress_bar: bool = False,
        use_batched_encoding: bool = True,
        truncate_dim: int | None = None,
        mrr_at_k: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if mrr_at_k is not None:
            logger.warning("%s: `mrr_at_k` is deprecated; pass `at_k=%s` instead.", owner, mrr_at_k)
            at_k = mrr_at_k
        at_k = positive_int(owner, "at_k", at_k)
        if not callable(similarity_fct):
            raise ValueError(
                f"{owner}: `similarity_fct` must be a function of two embedding tensors, found "
                f"{type(similarity_fct).__name__}. Pass e.g. embedforge.util.cos_sim."
            )
        self.samples = _check_samples(owner, samples)
        self.at_k = at_k
        self.name = name
        self.write_csv = write_csv
        self.similarity_fct = similarity_fct
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.use_batched_encoding = use_batched_encoding
        self.truncate_dim = truncate_dim
        self.csv_file = f"RerankingEvaluator{reporting.name_suffix(name)}_results_@{at_k}.csv"
        self.csv_headers = ["epoch", "steps", "MAP", f"MRR@{at_k}", f"NDCG@{at_k}"]
        self.primary_metric = f"{name}_ndcg@{at_k}" if name else f"ndcg@{at_k}"

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed queries and documents, rank each query's documents and average the ranking metrics.

        Args:
            model: The model to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps, self.truncate_dim)
        scores = self.compute_metrics(model)
        reporting.log_metrics(
            [
                self._dataset_line(),
                f"MAP: {scores['map'] * 100:.2f}",
                f"MRR@{self.at_k}: {scores['mrr'] * 100:.2f}",
                f"NDCG@{self.at_k}: {scores['ndcg'] * 100:.2f}",
            ]
        )
        if output_path is not None and self.write_csv:
            row = [epoch, steps, scores["map"], scores["mrr"], scores["ndcg"]]
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, row)
        metrics = {"map": scores["map"], f"mrr@{self.at_k}": scores["mrr"], f"ndcg@{self.at_k}": scores["ndcg"]}
        return self.publish_metrics(model, metrics, epoch, steps)

    def compute_metrics(self, model: EmbeddingModel) -> dict[str, float]:
        """Mean ``map``, ``mrr`` (at ``at_k``) and ``ndcg`` (at ``at_k``) over the samples.

        Args:
            model: The model to evaluate.

        Returns:
            The three means, unprefixed.
        """
        if self.use_batched_encoding:
            return self.compute_metrics_batched(model)
        return self.compute_metrics_individual(model)

    def compute_metrics_batched(self, model: EmbeddingModel) -> dict[str, float]:
        """:meth:`compute_metrics` with one ``encode_query`` call and one ``encode_document`` call in all.

        Args:
            model: The model to evaluate.

        Returns:
            The three means, unprefixed.
        """
        options = self._encode_options(self.show_progress_bar)
        (queries,) = encode_unique(model.encode_query, [[sample["query"] for sample in self.samples]], **options)
        documents = encode_unique(
            model.encode_document, [sample["positive"] + sample["negative"] for sample in self.samples], **options
        )
        rankings = [
            self._sample_metrics(query, docs, len(sample["positive"]))
            for query, docs, sample in zip(queries, documents, self.samples, strict=True)
        ]
        return _mean_metrics(rankings)

    def compute_metrics_individual(self, model: EmbeddingModel) -> dict[str, float]:
        """:meth:`compute_metrics` embedding one sample (its query, then its documents) at a time.

        Args:
            model: The model to evaluate.

        Returns:
            The three means, unprefixed.
        """
        options = self._encode_options(False)
        rankings = []
        for sample in tqdm(self.samples, disable=not self.show_progress_bar, desc="Samples"):
            (query,) = encode_unique(model.encode_query, [[sample["query"]]], **options)
            (docs,) = encode_unique(model.encode_document, [sample["positive"] + sample["negative"]], **options)
            rankings.append(self._sample_metrics(query[0], docs, len(sample["positive"])))
        return _mean_metrics(rankings)

    compute_metrices = compute_metrics
    compute_metrices_batched = compute_metrics_batched
    compute_metrices_individual = compute_metrics_individual

    def _encode_options(self, show_progress_bar: bool) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "show_progress_bar": show_progress_bar,
            "convert_to_numpy": True,
            "truncate_dim": self.truncate_dim,
        }

    def _sample_metrics(self, query: np.ndarray, documents: np.ndarray, num_positive: int) -> tuple[float, ...]:
        """``(ap, mrr@k, ndcg@k)`` of one query ``(dim,)`` against its documents ``(n, dim)``, positives first."""
        scores = self.similarity_fct(torch.from_numpy(query[None]), torch.from_numpy(documents))
        if scores.dim() > 1:
            scores = scores[0]
        values = scores.detach().cpu().double().numpy()
        relevant = np.zeros(len(values), dtype=bool)
        relevant[:num_positive] = True
        return (
            average_precision(relevant, values),
            reciprocal_rank_at_k(relevant, values, self.at_k),
            ndcg_at_k(relevant, values, self.at_k),
        )

    def _dataset_line(self) -> str:
        positives = [len(sample["positive"]) for sample in self.samples]
        negatives = [len(sample["negative"]) for sample in self.samples]

        def stats(counts: list[int]) -> str:
            return f"Min {np.min(counts):.1f}, Mean {np.mean(counts):.1f}, Max {np.max(counts):.1f}"

        return f"Queries: {len(self.samples)} \t Positives: {stats(positives)} \t Negatives: {stats(negatives)}"


def reciprocal_rank_at_k(relevant: np.ndarray, scores: np.ndarray, k: int) -> float:
    """``1 / rank`` of the best-ranked relevant document if it is in the top ``k``, else 0.

    Args:
        relevant: Whether each document is relevant, shape ``(n,)``.
        scores: Score of each document, shape ``(n,)``; ties keep the input order.
        k: Rank cut-off.

    Returns:
        The reciprocal rank.
    """
    ranked = relevant[np.argsort(-scores, kind="stable")][:k]
    hits = np.flatnonzero(ranked)
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def average_precision(relevant: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of the ranking by decreasing score, with tied scores taken as one step.

    ``sum_t (R_t - R_{t-1}) P_t`` over the distinct scores ``t`` (as ``sklearn.metrics.average_precision_score``).

    Args:
        relevant: Whether each document is relevant, shape ``(n,)``; at least one must be.
        scores: Score of each document, shape ``(n,)``.

    Returns:
        The average precision in ``[0, 1]``.
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    ends = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    true_positives = np.cumsum(relevant[order])[ends]
    precision = true_positives / (ends + 1)
    recall_steps = np.diff(np.r_[0, true_positives]) / true_positives[-1]
    return float(np.sum(recall_steps * precision))


def ndcg_at_k(relevant: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Normalized DCG of the top ``k`` with binary gains; tied documents share their average gain.

    Ties are handled as ``sklearn.metrics.ndcg_score`` does (``ignore_ties=False``): each group of equal scores
    gets the mean gain of its members at each of the ranks it spans.

    Args:
        relevant: Whether each document is relevant, shape ``(n,)``.
        scores: Score of each document, shape ``(n,)``.
        k: Rank cut-off.

    Returns:
        The NDCG in ``[0, 1]`` (0 when nothing is relevant).
    """
    gains = relevant.astype(np.float64)
    discount = 1 / np.log2(np.arange(len(gains)) + 2)
    discount[k:] = 0
    ideal = float(np.sort(gains)[::-1] @ discount)
    if ideal == 0:
        return 0.0
    _, group_of, group_sizes = np.unique(-scores, return_inverse=True, return_counts=True)
    group_gains = np.zeros(len(group_sizes))
    np.add.at(group_gains, group_of.ravel(), gains)
    group_ends = np.cumsum(group_sizes) - 1
    group_discounts = np.diff(np.r_[0.0, np.cumsum(discount)[group_ends]])
    return float((group_gains / group_sizes) @ group_discounts) / ideal


def _mean_metrics(rankings: list[tuple[float, ...]]) -> dict[str, float]:
    """Means of per-sample ``(ap, mrr, ndcg)``."""
    ap, mrr, ndcg = np.mean(np.asarray(rankings, dtype=np.float64), axis=0)
    return {"map": float(ap), "mrr": float(mrr), "ndcg": float(ndcg)}


def _check_samples(owner: str, samples: Any) -> list[Sample]:
    """Samples with list-valued ``positive`` / ``negative``, those lacking either dropped with a warning."""
    if isinstance(samples, Mapping):
        samples = list(samples.values())
    if isinstance(samples, str) or not isinstance(samples, Iterable):
        raise ValueError(
            f"{owner}: `samples` must be a list of dicts with 'query', 'positive' and 'negative', found "
            f"{type(samples).__name__}. Pass e.g. [{{'query': q, 'positive': [p], 'negative': [n]}}]."
        )
    checked = [_check_sample(owner, index, sample) for index, sample in enumerate(samples)]
    if not checked:
        raise ValueError(f"{owner}: `samples` must hold at least one sample, found none. Pass the samples.")
    kept = [sample for sample in checked if sample["positive"] and sample["negative"]]
    if len(kept) < len(checked):
        skipped = [index for index, sample in enumerate(checked) if not (sample["positive"] and sample["negative"])]
        logger.warning(
            "%s: skipping %d of %d samples without a positive or without a negative document (indices %s%s).",
            owner,
            len(skipped),
            len(checked),
            skipped[:10],
            "..." if len(skipped) > 10 else "",
        )
    if not kept:
        raise ValueError(
            f"{owner}: every sample in `samples` lacks a positive or a negative document, so nothing can be "
            "ranked. Give each sample at least one 'positive' and one 'negative' text."
        )
    return kept


def _check_sample(owner: str, index: int, sample: Any) -> Sample:
    """One sample with its documents as lists, or a ``ValueError`` naming the sample and the key."""
    where = f"samples[{index}]"
    if not isinstance(sample, Mapping):
        raise ValueError(
            f"{owner}: `{where}` must be a dict with 'query', 'positive' and 'negative', found "
            f"{type(sample).__name__}. Pass one dict per query."
        )
    missing = [key for key in ("query", "positive", "negative") if key not in sample]
    if missing:
        raise ValueError(
            f"{owner}: `{where}` lacks the key(s) {missing} (found {sorted(map(str, sample))}). Every sample needs "
            "'query' (a text), 'positive' and 'negative' (lists of texts)."
        )
    if not isinstance(sample["query"], str):
        raise ValueError(
            f"{owner}: `{where}['query']` must be a text, found {type(sample['query']).__name__}. Pass one string."
        )
    return {
        **sample,
        "positive": _check_documents(owner, f"`{where}['positive']`", sample["positive"]),
        "negative": _check_documents(owner, f"`{where}['negative']`", sample["negative"]),
    }


def _check_documents(owner: str, where: str, documents: Any) -> list[str]:
    """A list of texts (one text becomes a list of one), or a ``ValueError``."""
    if isinstance(documents, str):
        return [documents]
    if not isinstance(documents, Iterable) or isinstance(documents, Mapping):
        raise ValueError(
            f"{owner}: {where} must be a list of texts, found {type(documents).__name__}. Pass a list of strings."
        )
    items = list(documents)
    bad = next((position for position, item in enumerate(items) if not isinstance(item, str)), None)
    if bad is not None:
        raise ValueError(
            f"{owner}: {where} must hold only texts, found {type(items[bad]).__name__} {items[bad]!r} at index "
            f"{bad}. Convert or drop that entry."
        )
    return items
