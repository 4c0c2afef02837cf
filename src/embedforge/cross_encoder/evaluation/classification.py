"""CrossEncoderClassificationEvaluator: how well a cross-encoder's scores classify text pairs."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.cross_encoder.evaluation.pair_inputs import check_class_labels, check_pairs, default_progress_bar
from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.binary_metrics import average_precision, best_accuracy_and_threshold, best_f1_and_threshold

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["CrossEncoderClassificationEvaluator", "f1_scores"]

logger = logging.getLogger(__name__)

BINARY_HEADERS = ["Accuracy", "Accuracy_Threshold", "F1", "F1_Threshold", "Precision", "Recall", "Average_Precision"]
"""CSV columns (after ``epoch, steps``) of a one-label model."""
MULTICLASS_HEADERS = ["Macro_F1", "Micro_F1", "Weighted_F1"]
"""CSV columns (after ``epoch, steps``) of a model with several labels."""


class CrossEncoderClassificationEvaluator(SentenceEvaluator):
    """Classification quality of a cross-encoder on labelled text pairs (sentence-transformers 6.2 API).

    The pairs are scored with ``model.predict`` (the model's activation applied: a sigmoid for one label). What is
    reported depends on the model:

    - **one label** (a score per pair, binary labels 0/1): ``accuracy`` and ``f1`` at the best thresholds
      (``accuracy_threshold``, ``f1_threshold``; "positive iff score >= threshold"), the ``precision`` and
      ``recall`` at the best-F1 threshold, and ``average_precision`` (primary) of ranking the pairs by score;
    - **several labels** (one score per class): the predicted class is the arg-max, and ``f1_macro`` (primary),
      ``f1_micro`` and ``f1_weighted`` compare it with the labels (as scikit-learn's ``f1_score``).

    Keys carry the ``name`` prefix (``mrpc_average_precision``); keys and values match sentence-transformers 6.2.

    Args:
        sentence_pairs: The ``(first, second)`` text pairs.
        labels: One class id per pair: 0/1 for a one-label model, ``0 .. num_labels - 1`` otherwise.
        name: Dataset name, prefixed to every metric key and part of the CSV file name (keyword only).
        prompt_name: Key of the model's ``prompts`` put before the first text of each pair.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar; None shows one when this module logs at INFO or DEBUG level.
        write_csv: Append the results to ``CrossEncoderClassificationEvaluator[_<name>]_results.csv`` in the
            call's ``output_path``.
        **kwargs: Accepted for compatibility with older evaluators and ignored (a warning names them).

    Example:
        >>> evaluator = CrossEncoderClassificationEvaluator(
        ...     [("A man eats.", "Someone eats."), ("A dog runs.", "The sky is blue.")], [1, 0], name="dev"
        ... )
        >>> results = evaluator(model)  # doctest: +SKIP
        >>> evaluator.primary_metric  # doctest: +SKIP
        'dev_average_precision'
    """

    def __init__(
        self,
        sentence_pairs: Iterable[Sequence[str]],
        labels: Iterable[int],
        *,
        name: str = "",
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        write_csv: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if kwargs:
            logger.warning("%s ignores the keyword arguments %s (older evaluators' options).", owner, sorted(kwargs))
        self.sentence_pairs = check_pairs(owner, sentence_pairs)
        self.labels = check_class_labels(owner, self.sentence_pairs, labels)
        self.name = name
        self.prompt_name = prompt_name
        self.batch_size = batch_size
        self.show_progress_bar = default_progress_bar(show_progress_bar, logger)
        self.write_csv = write_csv
        self.csv_file = f"CrossEncoderClassificationEvaluator{reporting.name_suffix(name)}_results.csv"
        self.csv_headers = ["epoch", "steps"]

    def __call__(
        self, model: ScoringModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score the pairs and compute the classification metrics.

        Args:
            model: The cross-encoder to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps)
        scores = np.asarray(
            model.predict(
                self.sentence_pairs,
                prompt_name=self.prompt_name,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=self.show_progress_bar,
            )
        )
        if model.num_labels == 1:
            metrics = self.binary_metrics(scores.reshape(len(self.labels)))
            self.csv_headers, self.primary_metric = ["epoch", "steps", *BINARY_HEADERS], "average_precision"
        else:
            metrics = self.multiclass_metrics(scores)
            self.csv_headers, self.primary_metric = ["epoch", "steps", *MULTICLASS_HEADERS], "f1_macro"
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *metrics.values()])
        return self.publish_metrics(model, metrics, epoch, steps)

    def binary_metrics(self, scores: np.ndarray) -> dict[str, float]:
        """Threshold metrics and average precision of one score per pair.

        Args:
            scores: Predicted scores, shape ``(n,)``.

        Returns:
            ``accuracy``, ``accuracy_threshold``, ``f1``, ``f1_threshold``, ``precision``, ``recall`` and
            ``average_precision``, unprefixed.
        """
        self._check_binary_labels()
        accuracy, accuracy_threshold = best_accuracy_and_threshold(scores, self.labels, True)
        f1, precision, recall, f1_threshold = best_f1_and_threshold(scores, self.labels, True)
        ap = average_precision(self.labels, scores)
        reporting.log_metrics(
            [
                f"Accuracy:          {accuracy * 100:.2f}\t(Threshold: {accuracy_threshold:.4f})",
                f"F1:                {f1 * 100:.2f}\t(Threshold: {f1_threshold:.4f})",
                f"Precision:         {precision * 100:.2f}",
                f"Recall:            {recall * 100:.2f}",
                f"Average Precision: {ap * 100:.2f}",
            ]
        )
        return {
            "accuracy": accuracy,
            "accuracy_threshold": accuracy_threshold,
            "f1": f1,
            "f1_threshold": f1_threshold,
            "precision": precision,
            "recall": recall,
            "average_precision": ap,
        }

    def multiclass_metrics(self, scores: np.ndarray) -> dict[str, float]:
        """Macro, micro and weighted F1 of the arg-max class.

        Args:
            scores: Predicted class scores, shape ``(n, num_labels)``.

        Returns:
            ``f1_macro``, ``f1_micro`` and ``f1_weighted``, unprefixed.
        """
        macro, micro, weighted = f1_scores(self.labels, np.argmax(scores, axis=1))
        reporting.log_metrics(
            [
                f"Macro F1:           {macro * 100:.2f}",
                f"Micro F1:           {micro * 100:.2f}",
                f"Weighted F1:        {weighted * 100:.2f}",
            ]
        )
        return {"f1_macro": macro, "f1_micro": micro, "f1_weighted": weighted}

    def _check_binary_labels(self) -> None:
        """A one-label model needs 0/1 labels (a threshold splits its scores in two classes)."""
        unexpected = sorted(set(np.unique(self.labels).tolist()) - {0, 1})
        if unexpected:
            raise ValueError(
                f"{type(self).__name__}: a model with one output label needs binary labels (0 or 1), found the "
                f"labels {unexpected}. Use a model with one label per class, or map the labels to 0/1."
            )


def f1_scores(labels: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """Macro, micro and weighted F1 of predicted classes, as scikit-learn's ``f1_score`` computes them.

    Per class ``c`` (every class among the labels and the predictions): ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)``.
    Macro averages ``F1_c``; weighted averages it by the number of labels of each class; micro applies the formula
    to the counts summed over the classes (the accuracy, for single-label data).

    Args:
        labels: Gold classes, shape ``(n,)``.
        predicted: Predicted classes, shape ``(n,)``.

    Returns:
        ``(macro, micro, weighted)``.

    Example:
        >>> f1_scores(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]))
        (0.6, 0.75, 0.65)
    """
    classes = np.union1d(labels, predicted)
    true_counts = np.array([np.sum(labels == c) for c in classes], dtype=np.float64)
    predicted_counts = np.array([np.sum(predicted == c) for c in classes], dtype=np.float64)
    hits = np.array([np.sum((labels == c) & (predicted == c)) for c in classes], dtype=np.float64)
    per_class = 2 * hits / (true_counts + predicted_counts)
    micro = 2 * hits.sum() / (true_counts.sum() + predicted_counts.sum())
    weighted = float(per_class @ true_counts / true_counts.sum())
    return float(per_class.mean()), float(micro), weighted
