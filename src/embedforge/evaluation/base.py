"""Base class of embedforge's evaluators: what every evaluator declares and the helpers they share.

An evaluator is called with a model during (or after) training and returns a dict of named metrics. It declares
which metric selects the best checkpoint (``primary_metric``) and whether higher is better
(``greater_is_better``); the trainer logs every metric with an ``eval_`` prefix.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["BaseEvaluator", "SentenceEvaluator"]

logger = logging.getLogger(__name__)


class SentenceEvaluator(ABC):
    """An evaluation run on a model, returning named metrics (``sentence_transformers`` ``BaseEvaluator`` API).

    Subclasses implement :meth:`__call__`, set ``primary_metric`` to the key of the metric that selects the best
    checkpoint (``load_best_model_at_end``), and list in ``config_keys`` the constructor arguments worth showing
    in a model card.

    Attributes:
        greater_is_better: Whether a higher ``primary_metric`` is better.
        primary_metric: Key of the main metric in the returned dict (with the ``name`` prefix), or None until the
            evaluator knows it (some evaluators learn it from the model on their first call).
        name: Dataset name; when set, every metric key is prefixed ``f"{name}_"``.
        config_keys: Attributes reported by :meth:`get_config_dict` when they are not None.

    Example:
        >>> class LengthEvaluator(SentenceEvaluator):
        ...     def __call__(self, model, output_path=None, epoch=-1, steps=-1):
        ...         self.primary_metric = "dim"
        ...         return self.prefix_name_to_metrics({"dim": 384}, "toy")
        >>> evaluator = LengthEvaluator()
        >>> evaluator(None), evaluator.primary_metric
        ({'toy_dim': 384.0}, 'toy_dim')
    """

    config_keys: ClassVar[tuple[str, ...]] = ()
    greater_is_better: bool = True
    primary_metric: str | None = None
    name: str = ""

    def __init__(self) -> None:
        self.greater_is_better = True
        self.primary_metric = None

    @abstractmethod
    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Evaluate ``model``.

        Args:
            model: The model to evaluate.
            output_path: Folder for result files (CSV); None writes nothing.
            epoch: Epoch at which the evaluation runs (-1: after training, e.g. on test data).
            steps: Training steps in the current epoch (-1: at the end of the epoch).

        Returns:
            Metric name (prefixed with ``name``) to value.
        """

    def prefix_name_to_metrics(self, metrics: Mapping[str, Any], name: str) -> dict[str, Any]:
        """Prefix every key with ``f"{name}_"`` (and ``primary_metric`` too), converting values to float.

        Args:
            metrics: Unprefixed metric names to values.
            name: The prefix; an empty name leaves the keys unchanged.

        Returns:
            The prefixed metrics; values that cannot be converted to float are kept as they are.
        """
        converted = {key: _maybe_float(value) for key, value in metrics.items()}
        if not name:
            return converted
        if self.primary_metric is not None and (
            self.primary_metric in metrics or not self.primary_metric.startswith(f"{name}_")
        ):
            self.primary_metric = f"{name}_{self.primary_metric}"
        return {f"{name}_{key}": value for key, value in converted.items()}

    def store_metrics_in_model_card_data(
        self, model: EmbeddingModel, metrics: Mapping[str, Any], epoch: float = 0, step: int = 0
    ) -> None:
        """Record ``metrics`` in the model's card data, if it has embedforge card data.

        Args:
            model: The evaluated model.
            metrics: The metrics this evaluator returns.
            epoch: Epoch of the evaluation (kept for signature compatibility).
            step: Step of the evaluation (kept for signature compatibility).
        """
        del epoch, step  # the card keeps the latest results only
        try:
            from embedforge.model_card import SentenceTransformerModelCardData
        except ImportError:
            logger.debug("embedforge.model_card is not available; evaluation metrics are not stored in the card.")
            return
        card_data = model.model_card_data
        if isinstance(card_data, SentenceTransformerModelCardData):
            card_data.set_eval_metrics(dict(metrics))

    def publish_metrics(
        self, model: EmbeddingModel, metrics: Mapping[str, Any], epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Prefix ``metrics`` with ``self.name`` and record them in the model card: the end of every ``__call__``.

        Args:
            model: The evaluated model.
            metrics: Unprefixed metric names to values.
            epoch: Epoch of the evaluation.
            steps: Step of the evaluation.

        Returns:
            The prefixed metrics, values as floats.
        """
        prefixed = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, prefixed, epoch, steps)
        return prefixed

    @property
    def description(self) -> str:
        """Readable name of the evaluation: the class name without ``Evaluator``, words split.

        ``BinaryClassificationEvaluator`` gives ``"Binary Classification"``; a ``CE`` prefix reads
        ``CrossEncoder``.
        """
        class_name = type(self).__name__
        if class_name.startswith("CE"):
            class_name = "CrossEncoder" + class_name[2:]
        class_name = class_name.split("Evaluator", 1)[0]
        return re.sub(r"([a-z])([A-Z])", r"\g<1> \g<2>", class_name)

    def get_config_dict(self) -> dict[str, Any]:
        """The ``config_keys`` attributes that are set (not None), for the model card.

        Returns:
            Attribute name to value.
        """
        values = {key: getattr(self, key) for key in self.config_keys}
        return {key: value for key, value in values.items() if value is not None}


BaseEvaluator = SentenceEvaluator
"""sentence-transformers 6 name of :class:`SentenceEvaluator`."""


def _maybe_float(value: Any) -> Any:
    """``float(value)`` when the value converts (numbers, numpy scalars), else the value itself."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
