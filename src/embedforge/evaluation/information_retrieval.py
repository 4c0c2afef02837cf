"""InformationRetrievalEvaluator: rank a corpus per query; accuracy, precision, recall, MRR, NDCG and MAP@k."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import Tensor

from embedforge.evaluation import ir_metrics, reporting
from embedforge.evaluation.arguments import ScoreFunction, check_score_functions, k_list, positive_int
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.beir import check_ids_match, check_relevant_docs, check_text_mapping
from embedforge.evaluation.inputs import encode_unique
from embedforge.evaluation.similarity import resolve_main_similarity
from embedforge.util.similarity_function import SimilarityFunction

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["InformationRetrievalEvaluator"]

logger = logging.getLogger(__name__)

Scores = dict[str, dict[str, dict[int, float]]]
"""Per score function name: metric (``"accuracy@k"``...) to ``{k: value}``."""


class InformationRetrievalEvaluator(SentenceEvaluator):
    """Retrieve the top documents of a corpus for every query and score the ranking against relevance judgments.

    Queries are embedded with ``model.encode_query`` and the corpus with ``model.encode_document`` (so a model's
    ``query`` / ``document`` prompts apply), the corpus ``corpus_chunk_size`` documents at a time: memory stays at
    ``queries x chunk`` scores. Documents are ranked by descending score, ties by ascending corpus id. Queries
    without relevant documents are skipped. Relevance is binary.

    Metrics, for ``name="dev"`` and the model's cosine similarity (keys and values match sentence-transformers 6.2):
    ``dev_cosine_accuracy@{k}``, ``dev_cosine_precision@{k}``, ``dev_cosine_recall@{k}`` (k from
    ``accuracy_at_k`` / ``precision_recall_at_k``), ``dev_cosine_ndcg@10`` (primary), ``dev_cosine_mrr@10``,
    ``dev_cosine_map@100``. With several ``score_functions``, the same keys for each, and the primary metric is
    the NDCG@max(ndcg_at_k) of ``main_score_function``, else of the best function on the first call. Definitions:
    :mod:`embedforge.evaluation.ir_metrics`.

    Args:
        queries: Query id to query text.
        corpus: Document id to document text.
        relevant_docs: Query id to the ids of its relevant documents (a set or list).
        corpus_chunk_size: Documents embedded and scored at a time.
        mrr_at_k: Cut-offs for MRR.
        ndcg_at_k: Cut-offs for NDCG.
        accuracy_at_k: Cut-offs for accuracy (any relevant document in the top k).
        precision_recall_at_k: Cut-offs for precision and recall.
        map_at_k: Cut-offs for MAP.
        show_progress_bar: Show a progress bar while encoding.
        batch_size: Texts per forward pass.
        name: Dataset name, prefixed to every metric key and part of the CSV file name.
        write_csv: Append the results to ``Information-Retrieval_evaluation[_<name>]_results.csv`` in the call's
            ``output_path``.
        truncate_dim: Keep the first dimensions of each embedding; default: the model's ``truncate_dim``.
        score_functions: Name to function mapping query embeddings ``(n_q, dim)`` and document embeddings
            ``(n_d, dim)`` to scores ``(n_q, n_d)``; default: ``{model.similarity_fn_name: model.similarity}`` of
            the model passed to each call.
        main_score_function: Function whose NDCG is the primary metric (a name or :class:`SimilarityFunction`).
        query_prompt: Prompt text prepended to the queries.
        query_prompt_name: Name of a model prompt for the queries (default: the model's ``query`` prompt).
        corpus_prompt: Prompt text prepended to the documents.
        corpus_prompt_name: Name of a model prompt for the documents (default: the model's ``document`` prompt).
        write_predictions: Also write the top documents of every query to
            ``Information-Retrieval_evaluation[_<name>]_predictions_<function>.jsonl`` in ``output_path``.

    Example:
        >>> evaluator = InformationRetrievalEvaluator(
        ...     queries={"q1": "What do cats eat?"},
        ...     corpus={"d1": "Cats eat fish.", "d2": "Cars need fuel."},
        ...     relevant_docs={"q1": {"d1"}},
        ...     name="toy",
        ... )
        >>> evaluator(model)["toy_cosine_ndcg@10"]  # doctest: +SKIP
        1.0
    """

    config_keys: ClassVar[tuple[str, ...]] = (
        "truncate_dim",
        "query_prompt",
        "query_prompt_name",
        "corpus_prompt",
        "corpus_prompt_name",
    )

    def __init__(
        self,
        queries: Mapping[str, str],
        corpus: Mapping[str, str],
        relevant_docs: Mapping[str, Collection[str]],
        corpus_chunk_size: int = 50000,
        mrr_at_k: Sequence[int] = (10,),
        ndcg_at_k: Sequence[int] = (10,),
        accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
        precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
        map_at_k: Sequence[int] = (100,),
        show_progress_bar: bool = False,
        batch_size: int = 32,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
        score_functions: Mapping[str, ScoreFunction] | None = None,
        main_score_function: str | SimilarityFunction | None = None,
        query_prompt: str | None = None,
        query_prompt_name: str | None = None,
        corpus_prompt: str | None = None,
        corpus_prompt_name: str | None = None,
        write_predictions: bool = False,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        queries = check_text_mapping(owner, "queries", queries)
        corpus = check_text_mapping(owner, "corpus", corpus)
        self.relevant_docs = check_relevant_docs(owner, relevant_docs)
        self.queries_ids = [qid for qid in queries if self.relevant_docs.get(qid)]
        self.queries = [queries[qid] for qid in self.queries_ids]
        self.corpus_ids = list(corpus)
        self.corpus = [corpus[cid] for cid in self.corpus_ids]
        check_ids_match(owner, list(queries), self.queries_ids, self.relevant_docs, corpus)
        self.corpus_chunk_size = positive_int(owner, "corpus_chunk_size", corpus_chunk_size)
        self.mrr_at_k = k_list(owner, "mrr_at_k", mrr_at_k)
        self.ndcg_at_k = k_list(owner, "ndcg_at_k", ndcg_at_k)
        self.accuracy_at_k = k_list(owner, "accuracy_at_k", accuracy_at_k)
        self.precision_recall_at_k = k_list(owner, "precision_recall_at_k", precision_recall_at_k)
        self.map_at_k = k_list(owner, "map_at_k", map_at_k)
        self.score_functions = check_score_functions(owner, score_functions)
        self.score_function_names = sorted(self.score_functions or {})
        self.main_score_function = resolve_main_similarity(
            main_score_function, owner=owner, argument="main_score_function"
        )
        if self.score_functions and self.main_score_function and self.main_score_function not in self.score_functions:
            raise ValueError(
                f"{owner}: `main_score_function`={self.main_score_function.value!r} must be a key of "
                f"`score_functions` {self.score_function_names}. Add it there or drop main_score_function."
            )
        self.show_progress_bar, self.batch_size, self.name = show_progress_bar, batch_size, name
        self.write_csv, self.truncate_dim = write_csv, truncate_dim
        self.query_prompt, self.query_prompt_name = query_prompt, query_prompt_name
        self.corpus_prompt, self.corpus_prompt_name = corpus_prompt, corpus_prompt_name
        self.write_predictions = write_predictions
        suffix = reporting.name_suffix(name)
        self.csv_file = f"Information-Retrieval_evaluation{suffix}_results.csv"
        self.predictions_file = f"Information-Retrieval_evaluation{suffix}_predictions.jsonl"
        self._corpus_id_ranks: Tensor | None = None

    @property
    def csv_headers(self) -> list[str]:
        """Columns of the CSV file: ``epoch, steps``, then per function (sorted) ``<fn>-Accuracy@k``, ..."""
        headers = ["epoch", "steps"]
        for fn in self.score_function_names:
            headers += [f"{fn}-Accuracy@{k}" for k in self.accuracy_at_k]
            headers += [f"{fn}-{kind}@{k}" for k in self.precision_recall_at_k for kind in ("Precision", "Recall")]
            headers += [f"{fn}-MRR@{k}" for k in self.mrr_at_k]
            headers += [f"{fn}-NDCG@{k}" for k in self.ndcg_at_k]
            headers += [f"{fn}-MAP@{k}" for k in self.map_at_k]
        return headers

    def csv_row(self, scores: Scores) -> list[float]:
        """The metric values in the order of :attr:`csv_headers` (without epoch and steps)."""
        row: list[float] = []
        for fn in self.score_function_names:
            values = scores[fn]
            row += [values["accuracy@k"][k] for k in self.accuracy_at_k]
            row += [values[f"{kind}@k"][k] for k in self.precision_recall_at_k for kind in ("precision", "recall")]
            row += [values["mrr@k"][k] for k in self.mrr_at_k]
            row += [values["ndcg@k"][k] for k in self.ndcg_at_k]
            row += [values["map@k"][k] for k in self.map_at_k]
        return row

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Rank the corpus for every query and compute the retrieval metrics.

        Args:
            model: The model to evaluate.
            output_path: Folder for the CSV (and predictions) files; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps, self.truncate_dim)
        score_functions = self.resolve_score_functions(model)
        scores = self.compute_all_metrics(model, output_path=output_path, score_functions=score_functions)
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *self.csv_row(scores)])
        if not self.primary_metric:
            self.primary_metric = self.select_primary_metric(scores)
        metrics = {
            f"{fn}_{metric.replace('@k', f'@{k}')}": value
            for fn, per_metric in scores.items()
            for metric, per_k in per_metric.items()
            for k, value in per_k.items()
        }
        return self.publish_metrics(model, metrics, epoch, steps)

    def resolve_score_functions(self, model: EmbeddingModel) -> dict[str, ScoreFunction]:
        """The score functions given at construction, else the model's own similarity (looked up per call).

        Args:
            model: The evaluated model.

        Returns:
            Function name to function; :attr:`score_function_names` follows (a change resets the primary metric).
        """
        if self.score_functions:
            return dict(self.score_functions)
        functions: dict[str, ScoreFunction] = {model.similarity_fn_name: model.similarity}
        if self.score_function_names != sorted(functions):
            if self.score_function_names:
                logger.warning(
                    "%s: the model scores with %s instead of %s; CSV rows already written keep the old column names.",
                    type(self).__name__,
                    sorted(functions),
                    self.score_function_names,
                )
            self.score_function_names = sorted(functions)
            self.primary_metric = None
        return functions

    def select_primary_metric(self, scores: Scores) -> str:
        """``<fn>_ndcg@<max k>`` for ``main_score_function``, else for the function with the highest NDCG."""
        k = max(self.ndcg_at_k)
        if self.main_score_function is not None:
            fn = self.main_score_function.value
            if fn not in scores:
                logger.warning("%s: main_score_function %r was not scored, only %s", type(self).__name__, fn, [*scores])
        else:
            fn = max(self.score_function_names, key=lambda name: scores[name]["ndcg@k"][k])
        return f"{fn}_ndcg@{k}"

    def compute_all_metrics(
        self,
        model: EmbeddingModel,
        corpus_model: EmbeddingModel | None = None,
        corpus_embeddings: Tensor | np.ndarray | None = None,
        output_path: str | None = None,
        score_functions: Mapping[str, ScoreFunction] | None = None,
    ) -> Scores:
        """Rank the corpus for every query and compute the metrics of each score function.

        Args:
            model: Model that embeds the queries (and the corpus, unless ``corpus_model`` is given).
            corpus_model: Model that embeds the corpus.
            corpus_embeddings: Precomputed corpus embeddings ``(n_docs, dim)``, in ``corpus_ids`` order.
            output_path: Folder for the predictions files (with ``write_predictions``).
            score_functions: Functions to score with; default: :meth:`resolve_score_functions`.

        Returns:
            Per function name: metric (``"accuracy@k"``, ``"precision@k"``, ``"recall@k"``, ``"ndcg@k"``,
            ``"mrr@k"``, ``"map@k"``) to ``{k: value}``.
        """
        functions = dict(score_functions) if score_functions is not None else self.resolve_score_functions(model)
        rankings = self.rank(model, corpus_model or model, corpus_embeddings, functions)
        if self.write_predictions and output_path is not None:
            for fn, (ids, scores) in rankings.items():
                self._write_predictions(Path(output_path), fn, ids, scores)
        reporting.log_metrics([f"Queries: {len(self.queries)}", f"Corpus: {len(self.corpus)}\n"])
        results = {fn: self.compute_metrics(ids) for fn, (ids, _) in rankings.items()}
        for fn in self.score_function_names:
            reporting.log_metrics([f"Score-Function: {fn}", *score_lines(results[fn])])
        return results

    def rank(
        self,
        model: EmbeddingModel,
        corpus_model: EmbeddingModel,
        corpus_embeddings: Tensor | np.ndarray | None,
        score_functions: Mapping[str, ScoreFunction],
    ) -> dict[str, tuple[list[list[str]], list[list[float]]]]:
        """The top ``max k`` documents of every query, per score function, scoring the corpus chunk by chunk.

        Returns:
            Per function name: corpus ids and scores per query, best first.
        """
        depth, device = max(self._all_k()), model.device
        query_embeddings = self._embed(model.encode_query, self.queries, self.query_prompt_name, self.query_prompt)
        query_embeddings = query_embeddings.to(device)
        empty = torch.empty((len(self.queries), 0))
        best = {fn: (empty.to(device), empty.to(device, torch.long)) for fn in score_functions}
        id_ranks = self.corpus_id_ranks().to(device)
        for start in range(0, len(self.corpus), self.corpus_chunk_size):
            end = min(start + self.corpus_chunk_size, len(self.corpus))
            if corpus_embeddings is None:
                chunk = self._embed(
                    corpus_model.encode_document, self.corpus[start:end], self.corpus_prompt_name, self.corpus_prompt
                )
            else:
                chunk = torch.as_tensor(corpus_embeddings[start:end])
            for fn, score_function in score_functions.items():
                scores = score_function(query_embeddings, chunk.to(device)).float()
                best[fn] = ir_metrics.merge_top_k(*best[fn], scores, id_ranks[start:end], depth)
        sorted_ids = sorted(self.corpus_ids)
        return {
            fn: ([[sorted_ids[r] for r in row] for row in ranks.tolist()], scores.tolist())
            for fn, (scores, ranks) in best.items()
        }

    def corpus_id_ranks(self) -> Tensor:
        """Position of each corpus document's id in the ascending order of all ids, ``(n_docs,)`` (cached)."""
        if self._corpus_id_ranks is None:
            order = sorted(range(len(self.corpus_ids)), key=self.corpus_ids.__getitem__)
            ranks = torch.empty(len(order), dtype=torch.long)
            ranks[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
            self._corpus_id_ranks = ranks
        return self._corpus_id_ranks

    def compute_metrics(self, ranked_ids: Sequence[Sequence[Hashable]]) -> dict[str, dict[int, float]]:
        """The metrics of one ranking (per query, corpus ids best first, in ``queries_ids`` order).

        Args:
            ranked_ids: Per query, ranked corpus ids.

        Returns:
            Metric (``"accuracy@k"``...) to ``{k: value}``, in sentence-transformers' order.
        """
        relevant = [self.relevant_docs[qid] for qid in self.queries_ids]
        num_relevant = np.asarray([len(ids) for ids in relevant])
        hits = ir_metrics.hit_matrix(ranked_ids, relevant, max(self._all_k()))
        return {
            "accuracy@k": {k: ir_metrics.accuracy_at_k(hits, k) for k in self.accuracy_at_k},
            "precision@k": {k: ir_metrics.precision_at_k(hits, k) for k in self.precision_recall_at_k},
            "recall@k": {k: ir_metrics.recall_at_k(hits, num_relevant, k) for k in self.precision_recall_at_k},
            "ndcg@k": {k: ir_metrics.ndcg_at_k(hits, num_relevant, k) for k in self.ndcg_at_k},
            "mrr@k": {k: ir_metrics.mrr_at_k(hits, k) for k in self.mrr_at_k},
            "map@k": {k: ir_metrics.average_precision_at_k(hits, num_relevant, k) for k in self.map_at_k},
        }

    def _all_k(self) -> list[int]:
        return [*self.mrr_at_k, *self.ndcg_at_k, *self.accuracy_at_k, *self.precision_recall_at_k, *self.map_at_k]

    def _embed(
        self, encode: Callable[..., np.ndarray], texts: list[str], prompt_name: str | None, prompt: str | None
    ) -> Tensor:
        """Embed each distinct text once with ``encode`` (``encode_query`` or ``encode_document``)."""
        (embeddings,) = encode_unique(
            encode,
            [texts],
            prompt_name=prompt_name,
            prompt=prompt,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            truncate_dim=self.truncate_dim,
        )
        return torch.from_numpy(np.ascontiguousarray(embeddings))

    def _write_predictions(self, folder: Path, fn: str, ids: list[list[str]], scores: list[list[float]]) -> None:
        """Write one JSON line per query: its id, text and ranked ``{"corpus_id", "score"}`` results."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.predictions_file.replace(".jsonl", f"_{fn}.jsonl")
        with open(path, mode="w", encoding="utf-8") as handle:
            for qid, query, row_ids, row_scores in zip(self.queries_ids, self.queries, ids, scores, strict=True):
                results = [{"corpus_id": cid, "score": score} for cid, score in zip(row_ids, row_scores, strict=True)]
                handle.write(json.dumps({"query_id": qid, "query": query, "results": results}) + "\n")


def score_lines(scores: dict[str, dict[int, float]]) -> list[str]:
    """The log lines of one score function's metrics (``"Accuracy@1: 80.00%"``, ..., ``"MAP@100: 0.8512"``)."""
    lines = [f"Accuracy@{k}: {value * 100:.2f}%" for k, value in scores["accuracy@k"].items()]
    lines += [f"Precision@{k}: {value * 100:.2f}%" for k, value in scores["precision@k"].items()]
    lines += [f"Recall@{k}: {value * 100:.2f}%" for k, value in scores["recall@k"].items()]
    lines += [f"MRR@{k}: {value:.4f}" for k, value in scores["mrr@k"].items()]
    lines += [f"NDCG@{k}: {value:.4f}" for k, value in scores["ndcg@k"].items()]
    return lines + [f"MAP@{k}: {value:.4f}" for k, value in scores["map@k"].items()]
