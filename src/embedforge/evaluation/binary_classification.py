"""BinaryClassificationEvaluator: how well an embedding similarity threshold separates similar from dissimilar pairs."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.binary_metrics import (
    average_precision,
    best_accuracy_and_threshold,
    best_f1_and_threshold,
    matthews_correlation,
    predict_similar,
)
from embedforge.evaluation.inputs import check_same_length, check_texts, encode_unique, example_columns
from embedforge.evaluation.similarity import model_fn_names, pairwise_similarity, resolve_fn_names
from embedforge.util.similarity_function import SimilarityFunction

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.readers import InputExample

__all__ = ["BinaryClassificationEvaluator"]

_METRICS = ("accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap", "mcc")
"""Metric names per similarity function, in the order of the returned dict."""
_CSV_METRICS = ("accuracy", "accuracy_threshold", "f1", "precision", "recall", "f1_threshold", "ap", "mcc")
"""The same metrics in the order of the CSV columns (sentence-transformers' order)."""
_DISTANCES = ("euclidean", "manhattan")
"""Functions scored as distances (lower is more similar), for which thresholds are distances too."""
_LOG_NAMES = {
    "cosine": "Cosine-Similarity",
    "dot": "Dot-Product",
    "euclidean": "Euclidean-Distance",
    "manhattan": "Manhattan-Distance",
}


class BinaryClassificationEvaluator(SentenceEvaluator):
    """Accuracy, F1, precision, recall, average precision and MCC of telling similar pairs from dissimilar ones.

    Every distinct sentence is embedded once (one ``model.encode`` call); each similarity function scores the
    pairs (cosine and dot as similarities, euclidean and manhattan as distances, so their thresholds are
    distances), and the thresholds that give the best accuracy and the best F1 are searched over the scores.
    Precision, recall and MCC are those at the best-F1 threshold; average precision ranks the pairs by score.

    Metrics, for ``name="mrpc"`` and the model's cosine similarity: ``mrpc_cosine_accuracy``,
    ``mrpc_cosine_accuracy_threshold``, ``mrpc_cosine_f1``, ``mrpc_cosine_f1_threshold``,
    ``mrpc_cosine_precision``, ``mrpc_cosine_recall``, ``mrpc_cosine_ap`` (primary) and ``mrpc_cosine_mcc``.
    With several ``similarity_fn_names``, these eight per function, then ``max_<metric>`` for each of the eight
    (the maximum over the functions; ``max_ap`` is primary). Keys and values match sentence-transformers 6.2.

    Args:
        sentences1: First sentence of each pair.
        sentences2: Second sentence of each pair.
        labels: 1 for a similar pair (e.g. paraphrases), 0 for a dissimilar one.
        name: Dataset name, prefixed to every metric key and to the CSV file name.
        batch_size: Sentences per forward pass.
        show_progress_bar: Show a progress bar while encoding.
        write_csv: Append the results to ``binary_classification_evaluation[_<name>]_results.csv`` in the call's
            ``output_path``.
        truncate_dim: Keep the first dimensions of each embedding; default: the model's ``truncate_dim``.
        similarity_fn_names: Functions to score with (``"cosine"``, ``"dot"``, ``"euclidean"``,
            ``"manhattan"`` or :class:`SimilarityFunction` members); default: the model's ``similarity_fn_name``
            at call time.

    Example:
        >>> evaluator = BinaryClassificationEvaluator(
        ...     ["A man plays guitar.", "A dog runs.", "It rains."],
        ...     ["Someone plays music.", "A cat sleeps.", "The sun shines."],
        ...     [1, 0, 0],
        ...     name="dev",
        ... )
        >>> evaluator(model)["dev_cosine_ap"]  # doctest: +SKIP
        1.0
    """

    config_keys: ClassVar[tuple[str, ...]] = ("truncate_dim",)

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        labels: Sequence[int],
        name: str = "",
        batch_size: int = 32,
        show_progress_bar: bool | None = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        similarity_fn_names: Sequence[str | SimilarityFunction] | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.sentences1 = check_texts(owner, "sentences1", sentences1)
        self.sentences2 = check_texts(owner, "sentences2", sentences2)
        self.labels = _check_labels(owner, labels)
        check_same_length(
            owner, ("sentences1", self.sentences1), ("sentences2", self.sentences2), ("labels", self.labels)
        )
        self.similarity_fn_names = list(
            resolve_fn_names(similarity_fn_names, None, owner=owner, main_argument="similarity_fn_names")
        )
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"binary_classification_evaluation{reporting.name_suffix(name)}_results.csv"
        self._scored_fn_names = tuple(self.similarity_fn_names)
        if self._scored_fn_names:
            self.primary_metric = self._primary_metric(self._scored_fn_names)

    @classmethod
    def from_input_examples(cls, examples: Sequence[InputExample], **kwargs: Any) -> BinaryClassificationEvaluator:
        """Build the evaluator from examples whose ``texts`` are sentence pairs and ``label`` is 0 or 1.

        Args:
            examples: The examples.
            **kwargs: Other constructor arguments.

        Returns:
            The evaluator.
        """
        first, second = example_columns(cls.__name__, examples, 2)
        return cls(first, second, [example.label for example in examples], **kwargs)

    @property
    def csv_headers(self) -> list[str]:
        """Columns of the CSV file: ``epoch, steps``, then eight columns per similarity function.

        Per function: ``<fn>_accuracy, <fn>_accuracy_threshold, <fn>_f1, <fn>_precision, <fn>_recall,
        <fn>_f1_threshold, <fn>_ap, <fn>_mcc`` (sentence-transformers' column order).
        """
        return ["epoch", "steps", *(f"{fn}_{metric}" for fn in self._scored_fn_names for metric in _CSV_METRICS)]

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed the pairs, score them and find the best thresholds per similarity function.

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
        if output_path is not None and self.write_csv:
            values = [scores[fn][metric] for fn in self._scored_fn_names for metric in _CSV_METRICS]
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *values])
        metrics = {f"{fn}_{metric}": value for fn, values in scores.items() for metric, value in values.items()}
        if len(self._scored_fn_names) > 1:
            metrics.update({f"max_{metric}": max(values[metric] for values in scores.values()) for metric in _METRICS})
        self.primary_metric = self._primary_metric(self._scored_fn_names)
        return self.publish_metrics(model, metrics, epoch, steps)

    def compute_metrics(self, model: EmbeddingModel) -> dict[str, dict[str, float]]:
        """Embed the pairs and compute the unprefixed metrics of each similarity function.

        Args:
            model: The model to evaluate.

        Returns:
            Function name (e.g. ``"cosine"``) to ``{"accuracy": ..., "accuracy_threshold": ..., "f1": ...,
            "f1_threshold": ..., "precision": ..., "recall": ..., "ap": ..., "mcc": ...}``.
        """
        embeddings1, embeddings2 = encode_unique(
            model.encode,
            [self.sentences1, self.sentences2],
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            truncate_dim=self.truncate_dim,
        )
        self._scored_fn_names = model_fn_names(tuple(self.similarity_fn_names), model)
        labels = np.asarray(self.labels)
        results: dict[str, dict[str, float]] = {}
        for fn_name in self._scored_fn_names:
            scores = pair_scores(fn_name, embeddings1, embeddings2)
            results[fn_name] = classification_metrics(scores, labels, fn_name not in _DISTANCES)
            reporting.log_metrics(_result_lines(_LOG_NAMES[fn_name], results[fn_name]))
        return results

    compute_metrices = compute_metrics
    """Old sentence-transformers spelling of :meth:`compute_metrics`."""

    find_best_acc_and_threshold = staticmethod(best_accuracy_and_threshold)
    """sentence-transformers' name of :func:`~embedforge.evaluation.binary_metrics.best_accuracy_and_threshold`."""

    find_best_f1_and_threshold = staticmethod(best_f1_and_threshold)
    """sentence-transformers' name of :func:`~embedforge.evaluation.binary_metrics.best_f1_and_threshold`."""

    def _primary_metric(self, fn_names: Sequence[str]) -> str:
        """Prefixed primary metric: ``max_ap`` with several functions, else the only function's ``ap``."""
        key = "max_ap" if len(fn_names) > 1 else f"{fn_names[0]}_ap"
        return reporting.prefixed(self.name, key)


def pair_scores(fn_name: str, embeddings1: np.ndarray, embeddings2: np.ndarray) -> np.ndarray:
    """Score of each pair: the similarity for cosine and dot, the distance for euclidean and manhattan.

    Args:
        fn_name: A similarity function name.
        embeddings1: ``(n_pairs, dim)``.
        embeddings2: ``(n_pairs, dim)``.

    Returns:
        Scores, shape ``(n_pairs,)``.
    """
    similarity = pairwise_similarity(fn_name)(embeddings1, embeddings2).detach().cpu().numpy()
    # The pairwise euclidean and manhattan functions return negated distances; turn them back into distances.
    return -similarity if fn_name in _DISTANCES else similarity


def classification_metrics(scores: np.ndarray, labels: np.ndarray, high_score_more_similar: bool) -> dict[str, float]:
    """The eight metrics of one similarity function, in the returned dict's order.

    Args:
        scores: Score of each pair, shape ``(n_pairs,)``.
        labels: 0/1 label of each pair, shape ``(n_pairs,)``.
        high_score_more_similar: True for similarities, False for distances.

    Returns:
        ``accuracy``, ``accuracy_threshold``, ``f1``, ``f1_threshold``, ``precision``, ``recall``, ``ap`` and
        ``mcc`` (precision, recall and MCC at the best-F1 threshold).
    """
    accuracy, accuracy_threshold = best_accuracy_and_threshold(scores, labels, high_score_more_similar)
    f1, precision, recall, f1_threshold = best_f1_and_threshold(scores, labels, high_score_more_similar)
    predicted = predict_similar(scores, f1_threshold, high_score_more_similar)
    return {
        "accuracy": accuracy,
        "accuracy_threshold": accuracy_threshold,
        "f1": f1,
        "f1_threshold": f1_threshold,
        "precision": precision,
        "recall": recall,
        "ap": average_precision(labels, scores if high_score_more_similar else -scores),
        "mcc": matthews_correlation(labels, predicted),
    }


def _result_lines(display_name: str, values: dict[str, float]) -> list[str]:
    """The log lines of one similarity function."""
    return [
        f"Accuracy with {display_name}:             {values['accuracy'] * 100:.2f}\t"
        f"(Threshold: {values['accuracy_threshold']:.4f})",
        f"F1 with {display_name}:                   {values['f1'] * 100:.2f}\t"
        f"(Threshold: {values['f1_threshold']:.4f})",
        f"Precision with {display_name}:            {values['precision'] * 100:.2f}",
        f"Recall with {display_name}:               {values['recall'] * 100:.2f}",
        f"Average Precision with {display_name}:    {values['ap'] * 100:.2f}",
        f"Matthews Correlation with {display_name}: {values['mcc'] * 100:.2f}\n",
    ]


def _check_labels(owner: str, labels: Sequence[int]) -> list[int]:
    """The labels as a list of ints, checked to be 0 or 1 each."""
    if isinstance(labels, str):
        raise ValueError(f"{owner}: `labels` must be a list of 0/1 labels, found a string {labels[:50]!r}.")
    values = list(labels)
    bad = next(
        (
            (index, label)
            for index, label in enumerate(values)
            if not isinstance(label, numbers.Number) or label not in (0, 1)
        ),
        None,
    )
    if bad is not None:
        index, label = bad
        raise ValueError(
            f"{owner}: `labels` must hold only 0 (dissimilar pair) or 1 (similar pair), found "
            f"{type(label).__name__} {label!r} at index {index}. Map the labels to 0/1 first (e.g. "
            "entailment -> 1, contradiction -> 0)."
        )
    return [int(label) for label in values]
