"""CrossEncoderRerankingEvaluator: how well a cross-encoder ranks each query's relevant documents first."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.cross_encoder.evaluation.pair_inputs import predict_relevance
from embedforge.evaluation import ir_metrics, reporting
from embedforge.evaluation.arguments import positive_int
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.reranking import average_precision, ndcg_at_k

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["CrossEncoderRerankingEvaluator", "RerankCandidates", "ranking_metrics", "score_lines"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RerankCandidates:
    """The documents of one sample that the cross-encoder scores, and what the first stage achieved.

    Attributes:
        query: The query text.
        documents: Texts to score against the query.
        relevant: Whether each document is a positive, shape ``(len(documents),)``.
        num_positives: Positives of the sample (some may be absent from ``documents``).
        base: ``(mrr, ndcg, ap)`` of the given ``documents`` order, or None for samples with ``negative``.
    """

    query: str
    documents: list[str]
    relevant: np.ndarray
    num_positives: int
    base: tuple[float, float, float] | None


class CrossEncoderRerankingEvaluator(SentenceEvaluator):
    """Rerank each query's documents by cross-encoder score; report MAP, MRR@k and NDCG@k (ST 6.2 API).

    Each sample is a dict with ``"query"``, ``"positive"`` (relevant texts, or one text) and exactly one of:

    - ``"negative"``: irrelevant texts; the positives and negatives are scored and ranked;
    - ``"documents"``: a first-stage ranking (best first, positives included or not). Its own quality is reported
      too, as ``base_map``, ``base_mrr@k`` and ``base_ndcg@k`` (positives missing from the list count as ranked
      after it). With ``always_rerank_positives`` (default) every positive is reranked along with the other
      documents (an upper bound of 1.0 is reachable); without it only the given ``documents`` are (a realistic
      pipeline score).

    All pairs are scored with one ``model.predict`` call (the model batches them). Per sample: MRR@k is the inverse
    rank of the first positive within the top ``at_k``; NDCG@k and MAP (over the whole list) count tied scores as
    scikit-learn does; a sample without positives scores 0. Metrics are the means over the samples:
    ``map``, ``mrr@{at_k}``, ``ndcg@{at_k}`` (primary), then the ``base_*`` ones when the samples have
    ``documents``; keys carry the ``name`` prefix and match sentence-transformers 6.2.

    Args:
        samples: The samples (a list, or a dict whose values are the samples).
        at_k: Rank cut-off of MRR and NDCG.
        always_rerank_positives: With ``documents``: also rerank the positives missing from them.
        name: Dataset name, prefixed to every metric key and part of the CSV file name.
        prompt_name: Key of the model's ``prompts`` put before each query.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar while scoring.
        write_csv: Append ``epoch, steps, MAP, MRR@k, NDCG@k`` to
            ``CrossEncoderRerankingEvaluator[_<name>]_results_@<at_k>.csv`` in the call's ``output_path``.
        mrr_at_k: Deprecated name of ``at_k``; wins over it when given.

    Example:
        >>> samples = [{"query": "What do cats eat?", "positive": ["Cats eat mice."], "negative": ["Rome is old."]}]
        >>> evaluator = CrossEncoderRerankingEvaluator(samples, name="dev")
        >>> evaluator.primary_metric
        'dev_ndcg@10'
        >>> evaluator(model)  # doctest: +SKIP
        {'dev_map': 1.0, 'dev_mrr@10': 1.0, 'dev_ndcg@10': 1.0}
    """

    def __init__(
        self,
        samples: Sequence[Mapping[str, Any]] | Mapping[Any, Mapping[str, Any]],
        at_k: int = 10,
        always_rerank_positives: bool = True,
        name: str = "",
        prompt_name: str | None = None,
        batch_size: int = 64,
        show_progress_bar: bool = False,
        write_csv: bool = True,
        mrr_at_k: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if mrr_at_k is not None:
            logger.warning("%s: `mrr_at_k` is deprecated; pass `at_k=%s` instead.", owner, mrr_at_k)
            at_k = mrr_at_k
        self.at_k = positive_int(owner, "at_k", at_k)
        self.samples = _sample_list(owner, samples)
        self.always_rerank_positives = always_rerank_positives
        self.candidates = [
            _candidates(owner, index, sample, always_rerank_positives, self.at_k)
            for index, sample in enumerate(self.samples)
        ]
        self.name = name
        self.prompt_name = prompt_name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.csv_file = f"CrossEncoderRerankingEvaluator{reporting.name_suffix(name)}_results_@{self.at_k}.csv"
        self.csv_headers = ["epoch", "steps", "MAP", f"MRR@{self.at_k}", f"NDCG@{self.at_k}"]
        self.primary_metric = reporting.prefixed(name, f"ndcg@{self.at_k}")

    def __call__(
        self, model: ScoringModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score every (query, document) pair, rerank, and average the ranking metrics over the samples.

        Args:
            model: The cross-encoder to evaluate (one output label).
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps)
        per_sample = [
            ranking_metrics(candidates.relevant, scores, self.at_k) if candidates.relevant.any() else (0.0, 0.0, 0.0)
            for candidates, scores in zip(self.candidates, self.predict_scores(model), strict=True)
        ]
        mrr, ndcg, ap = (float(value) for value in np.mean(np.asarray(per_sample, dtype=np.float64), axis=0))
        metrics = {"map": ap, f"mrr@{self.at_k}": mrr, f"ndcg@{self.at_k}": ndcg}
        base = self.base_metrics()
        reporting.log_metrics([self._dataset_line(), *score_lines(metrics, base, self.at_k)])
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, ap, mrr, ndcg])
        return self.publish_metrics(model, {**metrics, **base}, epoch, steps)

    def predict_scores(self, model: ScoringModel) -> list[np.ndarray]:
        """Cross-encoder scores of every sample's documents, from one batched ``model.predict`` call.

        Samples without positives are not scored (their metrics are 0 whatever the scores).

        Args:
            model: The cross-encoder (one output label).

        Returns:
            Per sample, the scores of its ``documents`` (empty for samples without positives).
        """
        scored = [candidates for candidates in self.candidates if candidates.relevant.any()]
        pairs = [[candidates.query, document] for candidates in scored for document in candidates.documents]
        scores = predict_relevance(
            type(self).__name__, model, pairs, self.prompt_name, self.batch_size, self.show_progress_bar
        )
        ends = iter(np.cumsum([len(candidates.documents) for candidates in scored]).tolist())
        per_sample, start = [], 0
        for candidates in self.candidates:
            if not candidates.relevant.any():
                per_sample.append(np.zeros(0, dtype=scores.dtype))
                continue
            end = next(ends)
            per_sample.append(scores[start:end])
            start = end
        return per_sample

    def base_metrics(self) -> dict[str, float]:
        """Means of the first-stage ranking's metrics (``base_map``...), empty for samples with ``negative``.

        Returns:
            The ``base_*`` metrics, unprefixed.
        """
        bases = [candidates.base for candidates in self.candidates if candidates.base is not None]
        if not bases:
            return {}
        mrr, ndcg, ap = (float(value) for value in np.mean(np.asarray(bases, dtype=np.float64), axis=0))
        return {"base_map": ap, f"base_mrr@{self.at_k}": mrr, f"base_ndcg@{self.at_k}": ndcg}

    def get_config_dict(self) -> dict[str, Any]:
        """``at_k``, and ``always_rerank_positives`` when the samples carry ``documents``.

        Returns:
            Attribute name to value.
        """
        config: dict[str, Any] = {"at_k": self.at_k}
        if self.samples and "documents" in self.samples[0]:
            config["always_rerank_positives"] = self.always_rerank_positives
        return config

    def _dataset_line(self) -> str:
        """``Queries: n  Positives: Min .., Mean .., Max ..  Negatives: ...`` for the log."""
        positives = [candidates.num_positives for candidates in self.candidates]
        negatives = [int(len(candidates.relevant) - candidates.relevant.sum()) for candidates in self.candidates]

        def stats(counts: list[int]) -> str:
            return f"Min {np.min(counts):.1f}, Mean {np.mean(counts):.1f}, Max {np.max(counts):.1f}"

        return f"Queries: {len(self.candidates)}\tPositives: {stats(positives)}\tNegatives: {stats(negatives)}"


def ranking_metrics(relevant: np.ndarray, scores: np.ndarray, at_k: int) -> tuple[float, float, float]:
    """``(mrr@k, ndcg@k, ap)`` of ranking documents by decreasing score.

    MRR ranks the documents by ``np.argsort(scores)[::-1]``, as sentence-transformers 6.2 does, so tied scores are
    ordered as numpy's default sort leaves them (reversed); NDCG and AP give tied documents their average gain, as
    scikit-learn does, so ties do not matter there.

    Args:
        relevant: Whether each document is relevant, shape ``(n,)``; at least one must be.
        scores: Score of each document, shape ``(n,)``.
        at_k: Rank cut-off of MRR and NDCG.

    Returns:
        The three metrics.

    Example:
        >>> ranking_metrics(np.array([False, True, False]), np.array([0.9, 0.5, 0.1]), 10)
        (0.5, 0.6309297535714575, 0.5)
    """
    ranked = relevant[np.argsort(scores)[::-1]]
    return (
        ir_metrics.mrr_at_k(ranked[None, :], at_k),
        ndcg_at_k(relevant, scores, at_k),
        average_precision(relevant, scores),
    )


def _first_stage_metrics(positives: list[str], documents: list[str], at_k: int) -> tuple[float, float, float]:
    """Metrics of the given ``documents`` order; positives it misses are ranked after it; 0 if it finds none."""
    positive_set = set(positives)
    found = np.array([document in positive_set for document in documents], dtype=bool)
    if not found.any():
        return 0.0, 0.0, 0.0
    relevant = np.concatenate([found, np.ones(max(len(positives) - int(found.sum()), 0), dtype=bool)])
    return ranking_metrics(relevant, np.arange(len(relevant), 0, -1, dtype=np.float64), at_k)


def _candidates(owner: str, index: int, sample: Any, always_rerank_positives: bool, at_k: int) -> RerankCandidates:
    """What to score for one sample (see :class:`RerankCandidates`), after checking the sample."""
    query, positives, others, is_ranking = _check_sample(owner, index, sample)
    positive_set = set(positives)
    base = None
    if not is_ranking:
        documents = positives + others
    elif always_rerank_positives:
        base = _first_stage_metrics(positives, others, at_k)
        documents = positives + [document for document in others if document not in positive_set]
    else:
        base = _first_stage_metrics(positives, others, at_k)
        documents = others
    relevant = np.array([document in positive_set for document in documents], dtype=bool)
    return RerankCandidates(query, documents, relevant, len(positives), base)


def _sample_list(owner: str, samples: Any) -> list[Mapping[str, Any]]:
    """The samples as a list (a dict gives its values), non-empty."""
    if isinstance(samples, Mapping):
        samples = list(samples.values())
    if isinstance(samples, str) or not isinstance(samples, Iterable):
        raise ValueError(
            f"{owner}: `samples` must be a list of dicts with 'query', 'positive' and 'negative' or "
            f"'documents', found {type(samples).__name__}. Pass e.g. "
            "[{'query': q, 'positive': [p], 'negative': [n]}]."
        )
    samples = list(samples)
    if not samples:
        raise ValueError(f"{owner}: `samples` must hold at least one sample, found none. Pass the samples.")
    return samples


def _check_sample(owner: str, index: int, sample: Any) -> tuple[str, list[str], list[str], bool]:
    """``(query, positives, negatives or documents, whether they are documents)``, or a ``ValueError``."""
    where = f"samples[{index}]"
    if not isinstance(sample, Mapping):
        raise ValueError(
            f"{owner}: `{where}` must be a dict with 'query', 'positive' and 'negative' or "
            f"'documents', found {type(sample).__name__}. Pass one dict per query."
        )
    missing = [key for key in ("query", "positive") if key not in sample]
    if missing:
        raise ValueError(
            f"{owner}: `{where}` lacks the key(s) {missing} (found {sorted(map(str, sample))}). Every "
            "sample needs 'query' (a text) and 'positive' (relevant texts)."
        )
    if ("negative" in sample) == ("documents" in sample):
        raise ValueError(
            f"{owner}: `{where}` must have exactly one of 'negative' and 'documents', found "
            f"{'both' if 'negative' in sample else 'neither'}. Use 'negative' for irrelevant texts, or "
            "'documents' for a first-stage ranking (best first)."
        )
    if not isinstance(sample["query"], str):
        raise ValueError(
            f"{owner}: `{where}['query']` must be a text, found {type(sample['query']).__name__}. Pass one string."
        )
    key = "documents" if "documents" in sample else "negative"
    positives = _texts(owner, f"{where}['positive']", sample["positive"])
    return sample["query"], positives, _texts(owner, f"{where}[{key!r}]", sample[key]), key == "documents"


def _texts(owner: str, where: str, texts: Any) -> list[str]:
    """A list of texts (one text becomes a list of one), or a ``ValueError``."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, Mapping) or not isinstance(texts, Iterable):
        raise ValueError(
            f"{owner}: `{where}` must be a list of texts, found {type(texts).__name__}. Pass a list of strings."
        )
    items = list(texts)
    bad = next((position for position, item in enumerate(items) if not isinstance(item, str)), None)
    if bad is not None:
        raise ValueError(
            f"{owner}: `{where}` must hold only texts, found {type(items[bad]).__name__} "
            f"{items[bad]!r:.60} at index {bad}. Convert or drop that entry."
        )
    return items


def score_lines(metrics: Mapping[str, float], base: Mapping[str, float], at_k: int) -> list[str]:
    """Log lines of the metrics, as ``base -> reranked`` when there is a first-stage ranking.

    Args:
        metrics: ``map``, ``mrr@{at_k}`` and ``ndcg@{at_k}``.
        base: ``base_map``, ``base_mrr@{at_k}`` and ``base_ndcg@{at_k}``, or empty.
        at_k: The cut-off.

    Returns:
        The lines.
    """
    pad = " " * len(str(at_k))
    names = [(f"MAP:{pad}   ", "map"), (f"MRR@{at_k}:  ", f"mrr@{at_k}"), (f"NDCG@{at_k}: ", f"ndcg@{at_k}")]
    if not base:
        return [f"{label}{metrics[key] * 100:.2f}" for label, key in names]
    return [f"{pad}       Base  -> Reranked"] + [
        f"{label}{base[f'base_{key}'] * 100:.2f} -> {metrics[key] * 100:.2f}" for label, key in names
    ]
