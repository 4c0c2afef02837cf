"""The older ``CE*`` evaluator names of the sentence-transformers documentation, with their older call signatures.

Each name is a subclass of its sentence-transformers 6.2 replacement that warns (``DeprecationWarning``) when built
and names that replacement. The results are the replacement's (a dict of metrics, CSV file named after the
replacement), because the trainer needs a dict; the older arguments keep their documented meaning:

| older name | replacement | older arguments honoured |
|---|---|---|
| ``CEBinaryAccuracyEvaluator`` | Classification | positional ``name``, ``threshold`` (accuracy of ``score > t``) |
| ``CEBinaryClassificationEvaluator`` | Classification | positional ``name``, ``show_progress_bar`` |
| ``CEF1Evaluator`` | Classification | keyword-only options, as before |
| ``CESoftmaxAccuracyEvaluator`` | Classification | positional ``name`` |
| ``CECorrelationEvaluator`` | Correlation | positional ``(name, write_csv)`` |
| ``CERerankingEvaluator`` | Reranking | ``mrr_at_k`` (the cut-off), positional ``(samples, mrr_at_k, name)`` |

(Classification, Correlation and Reranking stand for ``CrossEncoder<...>Evaluator``.)

The classification names and ``CECorrelationEvaluator`` also build from InputExamples (``from_input_examples``).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.cross_encoder.evaluation.classification import CrossEncoderClassificationEvaluator
from embedforge.cross_encoder.evaluation.correlation import CrossEncoderCorrelationEvaluator
from embedforge.cross_encoder.evaluation.pair_inputs import examples_to_pairs
from embedforge.cross_encoder.evaluation.reranking import CrossEncoderRerankingEvaluator
from embedforge.evaluation import reporting

if TYPE_CHECKING:
    from embedforge.readers import InputExample

__all__ = [
    "CEBinaryAccuracyEvaluator",
    "CEBinaryClassificationEvaluator",
    "CECorrelationEvaluator",
    "CEF1Evaluator",
    "CERerankingEvaluator",
    "CESoftmaxAccuracyEvaluator",
]

_CLASSIFICATION = "CrossEncoderClassificationEvaluator"


def _warn_old_name(old: str, new: str, note: str = "") -> None:
    """Warn (``DeprecationWarning``, pointing at the caller of the constructor) that ``old`` is replaced."""
    warnings.warn(
        f"{old} is an older name kept for compatibility; use {new} instead, which takes the same data and "
        f"returns the same metrics.{note}",
        DeprecationWarning,
        stacklevel=3,
    )


class _PairExamples(CrossEncoderClassificationEvaluator):
    """The older classification names: built from InputExamples too."""

    @classmethod
    def from_input_examples(
        cls, examples: Sequence[InputExample], **kwargs: Any
    ) -> CrossEncoderClassificationEvaluator:
        """Build the evaluator from InputExamples: ``texts`` give the pair, ``label`` the class id.

        Args:
            examples: InputExamples with two texts and an integer label each.
            **kwargs: The other constructor arguments (``name=``...).

        Returns:
            The evaluator.
        """
        pairs, labels = examples_to_pairs(cls.__name__, examples)
        return cls(pairs, labels, **kwargs)


class CEBinaryAccuracyEvaluator(_PairExamples):
    """Older name of :class:`CrossEncoderClassificationEvaluator` (one-label models, a fixed threshold).

    Reports what the replacement reports; when ``threshold`` is given, ``accuracy`` is the share of pairs whose
    predicted class ``score > threshold`` equals the label, and ``accuracy_threshold`` is ``threshold`` (the other
    metrics still use their best thresholds). Without it, ``accuracy`` is at the best threshold, as in the
    replacement.

    Args:
        sentence_pairs: The ``(first, second)`` text pairs.
        labels: 0/1 per pair.
        name: Dataset name (may be given positionally, as the older documentation does).
        threshold: Fixed decision threshold of the accuracy (on the scores after the model's activation).
        write_csv: Append the results to the replacement's CSV file.
        prompt_name: Key of the model's ``prompts`` put before the first text of each pair.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar; None follows the log level.
        **kwargs: Ignored older options (a warning names them).

    Example:
        >>> evaluator = CEBinaryAccuracyEvaluator([("A man eats.", "Someone eats.")], [1], "dev", threshold=0.5)
        >>> evaluator.name, evaluator.threshold
        ('dev', 0.5)
    """

    def __init__(
        self,
        sentence_pairs: Iterable[Sequence[str]],
        labels: Iterable[int],
        name: str = "",
        threshold: float | None = None,
        write_csv: bool = True,
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        **kwargs: Any,
    ) -> None:
        _warn_old_name(
            "CEBinaryAccuracyEvaluator",
            _CLASSIFICATION,
            " Its `threshold` fixes the threshold of `accuracy`; the replacement searches the best one.",
        )
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)):
            raise ValueError(
                f"CEBinaryAccuracyEvaluator: `threshold` must be a number, found {threshold!r}. Pass "
                "e.g. threshold=0.5 (scores are after the model's activation), or None for the best one."
            )
        super().__init__(
            sentence_pairs,
            labels,
            name=name,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
            **kwargs,
        )
        self.threshold = None if threshold is None else float(threshold)

    def binary_metrics(self, scores: np.ndarray) -> dict[str, float]:
        """The replacement's metrics, with ``accuracy`` at ``threshold`` when one was given.

        Args:
            scores: Predicted scores, shape ``(n,)``.

        Returns:
            The unprefixed metrics.
        """
        metrics = super().binary_metrics(scores)
        if self.threshold is not None:
            accuracy = float(np.mean((scores > self.threshold) == (self.labels == 1)))
            reporting.log_metrics([f"Accuracy at the fixed threshold {self.threshold}: {accuracy * 100:.2f}"])
            metrics.update(accuracy=accuracy, accuracy_threshold=self.threshold)
        return metrics

    def multiclass_metrics(self, scores: np.ndarray) -> dict[str, float]:
        """The replacement's F1 metrics; a fixed ``threshold`` cannot apply to several labels.

        Args:
            scores: Predicted class scores, shape ``(n, num_labels)``.

        Returns:
            The unprefixed metrics.
        """
        if self.threshold is not None:
            raise ValueError(
                f"CEBinaryAccuracyEvaluator: `threshold`={self.threshold} needs a model with one output "
                f"label, found {scores.shape[-1]} labels. Drop `threshold` (the F1 scores of the "
                "arg-max class are reported) or evaluate a one-label model."
            )
        return super().multiclass_metrics(scores)


class CEBinaryClassificationEvaluator(_PairExamples):
    """Older name of :class:`CrossEncoderClassificationEvaluator` (accuracy, F1 and average precision).

    Args:
        sentence_pairs: The ``(first, second)`` text pairs.
        labels: 0/1 per pair (class ids for a model with several labels).
        name: Dataset name (may be given positionally, as the older documentation does).
        show_progress_bar: Show a progress bar; None follows the log level.
        write_csv: Append the results to the replacement's CSV file.
        prompt_name: Key of the model's ``prompts`` put before the first text of each pair.
        batch_size: Pairs per forward pass.
        **kwargs: Ignored older options (a warning names them).
    """

    def __init__(
        self,
        sentence_pairs: Iterable[Sequence[str]],
        labels: Iterable[int],
        name: str = "",
        show_progress_bar: bool | None = None,
        write_csv: bool = True,
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        **kwargs: Any,
    ) -> None:
        _warn_old_name("CEBinaryClassificationEvaluator", _CLASSIFICATION)
        super().__init__(
            sentence_pairs,
            labels,
            name=name,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
            **kwargs,
        )


class CEF1Evaluator(_PairExamples):
    """Older name of :class:`CrossEncoderClassificationEvaluator` (F1 scores); its options were keyword-only.

    Args:
        sentence_pairs: The ``(first, second)`` text pairs.
        labels: One class id per pair.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar; None follows the log level.
        name: Dataset name.
        write_csv: Append the results to the replacement's CSV file.
        prompt_name: Key of the model's ``prompts`` put before the first text of each pair.
        **kwargs: Ignored older options (a warning names them).
    """

    def __init__(
        self,
        sentence_pairs: Iterable[Sequence[str]],
        labels: Iterable[int],
        *,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        name: str = "",
        write_csv: bool = True,
        prompt_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        _warn_old_name("CEF1Evaluator", _CLASSIFICATION)
        super().__init__(
            sentence_pairs,
            labels,
            name=name,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
            **kwargs,
        )


class CESoftmaxAccuracyEvaluator(_PairExamples):
    """Older name of :class:`CrossEncoderClassificationEvaluator` for models with several labels.

    The replacement reports ``f1_macro``, ``f1_micro`` and ``f1_weighted`` of the arg-max class; ``f1_micro`` is
    the older evaluator's accuracy.

    Args:
        sentence_pairs: The ``(first, second)`` text pairs.
        labels: One class id per pair.
        name: Dataset name (may be given positionally, as the older documentation does).
        write_csv: Append the results to the replacement's CSV file.
        prompt_name: Key of the model's ``prompts`` put before the first text of each pair.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar; None follows the log level.
        **kwargs: Ignored older options (a warning names them).
    """

    def __init__(
        self,
        sentence_pairs: Iterable[Sequence[str]],
        labels: Iterable[int],
        name: str = "",
        write_csv: bool = True,
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        **kwargs: Any,
    ) -> None:
        _warn_old_name(
            "CESoftmaxAccuracyEvaluator",
            _CLASSIFICATION,
            " Its accuracy is the replacement's `f1_micro` (single-label classes).",
        )
        super().__init__(
            sentence_pairs,
            labels,
            name=name,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
            **kwargs,
        )


class CECorrelationEvaluator(CrossEncoderCorrelationEvaluator):
    """Older name of :class:`CrossEncoderCorrelationEvaluator`, with the older positional ``(name, write_csv)``.

    Args:
        sentence_pairs: The ``(first, second)`` text pairs.
        scores: One gold score per pair.
        name: Dataset name.
        write_csv: Append the results to the replacement's CSV file.
        prompt_name: Key of the model's ``prompts`` put before the first text of each pair.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar; None follows the log level.
    """

    def __init__(
        self,
        sentence_pairs: Iterable[Sequence[str]],
        scores: Iterable[float],
        name: str = "",
        write_csv: bool = True,
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
    ) -> None:
        _warn_old_name("CECorrelationEvaluator", "CrossEncoderCorrelationEvaluator")
        super().__init__(
            sentence_pairs,
            scores,
            name=name,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
        )


class CERerankingEvaluator(CrossEncoderRerankingEvaluator):
    """Older name of :class:`CrossEncoderRerankingEvaluator`: ``(samples, mrr_at_k, name, write_csv)``.

    ``mrr_at_k`` is the cut-off of MRR and NDCG (the replacement's ``at_k``; either may be given, not two different
    values). Samples are ``{"query", "positive", "negative"}`` dicts, or carry ``"documents"`` as in the
    replacement.

    Args:
        samples: The samples.
        mrr_at_k: Rank cut-off (default 10).
        name: Dataset name.
        write_csv: Append the results to the replacement's CSV file.
        at_k: The replacement's name of the cut-off.
        always_rerank_positives: See :class:`CrossEncoderRerankingEvaluator`.
        prompt_name: Key of the model's ``prompts`` put before each query.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar.

    Example:
        >>> samples = [{"query": "Who?", "positive": ["Me."], "negative": ["Rome is old."]}]
        >>> CERerankingEvaluator(samples, 5, "dev").primary_metric
        'dev_ndcg@5'
    """

    def __init__(
        self,
        samples: Sequence[Mapping[str, Any]] | Mapping[Any, Mapping[str, Any]],
        mrr_at_k: int | None = None,
        name: str = "",
        write_csv: bool = True,
        *,
        at_k: int | None = None,
        always_rerank_positives: bool = True,
        prompt_name: str | None = None,
        batch_size: int = 64,
        show_progress_bar: bool = False,
    ) -> None:
        _warn_old_name("CERerankingEvaluator", "CrossEncoderRerankingEvaluator", " Pass the cut-off as at_k=.")
        if mrr_at_k is not None and at_k is not None and mrr_at_k != at_k:
            raise ValueError(
                f"CERerankingEvaluator: `mrr_at_k`={mrr_at_k} and `at_k`={at_k} are two names of the "
                "same cut-off. Pass only one of them."
            )
        cut_off = next((k for k in (mrr_at_k, at_k) if k is not None), 10)
        super().__init__(
            samples,
            at_k=cut_off,
            always_rerank_positives=always_rerank_positives,
            name=name,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
        )
