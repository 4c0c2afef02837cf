"""CrossEncoderCorrelationEvaluator: how well a cross-encoder's scores correlate with gold similarity scores."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from embedforge.cross_encoder.evaluation.pair_inputs import (
    check_pairs,
    check_scores,
    default_progress_bar,
    examples_to_pairs,
    predict_relevance,
)
from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.metrics import correlations

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel
    from embedforge.readers import InputExample

__all__ = ["CrossEncoderCorrelationEvaluator"]

logger = logging.getLogger(__name__)


class CrossEncoderCorrelationEvaluator(SentenceEvaluator):
    """Pearson and Spearman correlation of a one-label cross-encoder's scores with gold scores.

    The pairs are scored with ``model.predict`` (the model's activation applied); the metrics are ``pearson`` and
    ``spearman`` (primary), prefixed with ``name`` (``sts-dev_spearman``). Keys and values match
    sentence-transformers 6.2.

    Args:
        sentence_pairs: The ``(first, second)`` text pairs.
        scores: One gold score per pair (any scale: only correlations are computed).
        name: Dataset name, prefixed to every metric key and part of the CSV file name.
        prompt_name: Key of the model's ``prompts`` put before the first text of each pair.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar; None shows one when this module logs at INFO or DEBUG level.
        write_csv: Append the results to ``CrossEncoderCorrelationEvaluator[_<name>]_results.csv`` in the call's
            ``output_path``.

    Example:
        >>> evaluator = CrossEncoderCorrelationEvaluator(
        ...     [("A man eats.", "Someone eats."), ("A dog runs.", "The sky is blue."), ("Hi.", "Hello.")],
        ...     [0.9, 0.1, 0.7],
        ...     name="sts-dev",
        ... )
        >>> evaluator.primary_metric
        'sts-dev_spearman'
    """

    csv_headers: ClassVar[list[str]] = ["epoch", "steps", "Pearson_Correlation", "Spearman_Correlation"]

    def __init__(
        self,
        sentence_pairs: Iterable[Sequence[str]],
        scores: Iterable[float],
        name: str = "",
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        write_csv: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.sentence_pairs = check_pairs(owner, sentence_pairs)
        self.scores = check_scores(owner, self.sentence_pairs, scores)
        self.name = name
        self.prompt_name = prompt_name
        self.batch_size = batch_size
        self.show_progress_bar = default_progress_bar(show_progress_bar, logger)
        self.write_csv = write_csv
        self.csv_file = f"CrossEncoderCorrelationEvaluator{reporting.name_suffix(name)}_results.csv"
        self.primary_metric = reporting.prefixed(name, "spearman")

    @classmethod
    def from_input_examples(cls, examples: Sequence[InputExample], **kwargs: Any) -> CrossEncoderCorrelationEvaluator:
        """Build the evaluator from InputExamples: ``texts`` give the pair, ``label`` the gold score.

        Args:
            examples: InputExamples with two texts and a numeric label each.
            **kwargs: The other constructor arguments (``name=``...).

        Returns:
            The evaluator.
        """
        pairs, scores = examples_to_pairs(cls.__name__, examples)
        return cls(pairs, scores, **kwargs)

    def __call__(
        self, model: ScoringModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score the pairs and correlate the scores with the gold scores.

        Args:
            model: The cross-encoder to evaluate (one output label).
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            ``pearson`` and ``spearman``, keys prefixed with ``name``; NaN when the gold or predicted scores are
            constant.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps)
        predicted = predict_relevance(
            type(self).__name__, model, self.sentence_pairs, self.prompt_name, self.batch_size, self.show_progress_bar
        )
        pearson, spearman = correlations(self.scores, predicted)
        reporting.log_metrics([f"Correlation:\tPearson: {pearson:.4f}\tSpearman: {spearman:.4f}"])
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, pearson, spearman])
        return self.publish_metrics(model, {"pearson": pearson, "spearman": spearman}, epoch, steps)
