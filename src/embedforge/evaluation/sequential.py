"""SequentialEvaluator: run several evaluators one after the other and combine their primary scores."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.embedding_cache import shared_embeddings

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["SequentialEvaluator"]

logger = logging.getLogger(__name__)


def last_score(scores: Sequence[float]) -> float:
    """The default ``main_score_function``: the last evaluator's primary score."""
    return scores[-1]


class SequentialEvaluator(SentenceEvaluator):
    """Run evaluators in order; return all their metrics plus ``sequential_score`` (the primary metric).

    While it runs, the evaluators share one :class:`~embedforge.evaluation.embedding_cache.EmbeddingCache`: a text
    that several of them embed the same way is embedded once.

    ``sequential_score`` is ``main_score_function`` applied to the evaluators' primary scores (an evaluator
    without ``primary_metric`` contributes its first metric). The trainer wraps a list passed as
    ``evaluator=[...]`` in this class.

    Args:
        evaluators: The evaluators, run in this order.
        main_score_function: Combines the list of primary scores into one; default: the last one. E.g.
            ``lambda scores: sum(scores) / len(scores)``.

    Example:
        >>> SequentialEvaluator([]).primary_metric
        'sequential_score'
    """

    def __init__(
        self,
        evaluators: Iterable[SentenceEvaluator],
        main_score_function: Callable[[list[float]], float] = last_score,
    ) -> None:
        super().__init__()
        self.evaluators = list(evaluators)
        for index, evaluator in enumerate(self.evaluators):
            if not isinstance(evaluator, SentenceEvaluator):
                raise TypeError(
                    f"SequentialEvaluator: `evaluators[{index}]` must be an embedforge SentenceEvaluator, found "
                    f"{type(evaluator).__name__}. Subclass embedforge.evaluation.SentenceEvaluator for custom ones."
                )
        self.main_score_function = main_score_function
        self.primary_metric = "sequential_score"

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Run every evaluator and combine their primary scores.

        Args:
            model: The model to evaluate.
            output_path: Passed to every evaluator.
            epoch: Passed to every evaluator.
            steps: Passed to every evaluator.

        Returns:
            The union of the evaluators' metrics (a later evaluator wins on a repeated key) plus
            ``sequential_score``.
        """
        results: dict[str, float] = {}
        scores: list[float] = []
        with shared_embeddings() as cache:  # texts several evaluators need are embedded once
            for index, evaluator in enumerate(self.evaluators):
                evaluation: dict[str, float] | float = evaluator(model, output_path, epoch, steps)
                if not isinstance(evaluation, dict):  # a legacy evaluator returning its score
                    scores.append(evaluation)
                    evaluation = {f"evaluator_{index}": evaluation}
                else:
                    scores.append(_primary_score(index, evaluator, evaluation))
                results.update(evaluation)
        if cache.reused:
            logger.info(
                "SequentialEvaluator: %d texts embedded, %d embeddings reused across evaluators.",
                cache.computed,
                cache.reused,
            )
        self.primary_metric = "sequential_score"
        results["sequential_score"] = self.main_score_function(scores) if scores else 0.0
        self.store_metrics_in_model_card_data(model, results, epoch, steps)
        return results


def _primary_score(index: int, evaluator: SentenceEvaluator, evaluation: dict[str, float]) -> float:
    """The evaluator's primary metric in its results (its first metric if it declares none)."""
    key = evaluator.primary_metric
    if key is None:
        if not evaluation:
            raise ValueError(
                f"SequentialEvaluator: `evaluators[{index}]` ({type(evaluator).__name__}) returned no metrics; "
                "expected at least one. Make its __call__ return a non-empty dict."
            )
        key = next(iter(evaluation))
    if key not in evaluation:
        raise ValueError(
            f"SequentialEvaluator: `evaluators[{index}]` ({type(evaluator).__name__}) declares primary_metric "
            f"{key!r}, which is not among its results {sorted(evaluation)}. Set primary_metric to one of its keys."
        )
    return evaluation[key]
