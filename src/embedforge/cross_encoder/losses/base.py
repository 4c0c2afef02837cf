"""CrossEncoderLoss: the base of the cross-encoder losses.

Cross-encoder losses receive the batch's text columns as they are (the collator does not tokenize): they build the
(query, document) pairs they score, tokenize them through the model and read its ``scores``. Columns are taken by
position: the first is the query (anchor), the second the document (positive), further ones negatives.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from torch import Tensor

from embedforge.losses.base import BaseLoss
from embedforge.model.batching import to_device
from embedforge.model.protocols import ScoringModel


class CrossEncoderLoss(BaseLoss):
    """A training objective for a :class:`~embedforge.CrossEncoder`.

    Subclasses declare ``input_spec``, ``config_keys`` and ``citation`` (as every embedforge loss does), set
    ``requires_one_label`` when they train a single relevance score, and implement :meth:`forward`.

    Args:
        model: The cross-encoder being trained.

    Raises:
        ValueError: If ``model`` is not a cross-encoder, or has several labels when the loss needs one.
    """

    requires_one_label: ClassVar[bool] = True

    def __init__(self, model: ScoringModel) -> None:
        from embedforge.cross_encoder.model import CrossEncoder

        if not isinstance(model, CrossEncoder):
            raise ValueError(
                f"{type(self).__name__} trains a CrossEncoder, got a {type(model).__name__}. Build the model with "
                "embedforge.CrossEncoder(...), or use the bi-encoder losses in embedforge.losses for a "
                "SentenceTransformer."
            )
        if self.requires_one_label and model.num_labels != 1:
            raise ValueError(
                f"{type(self).__name__} expects a CrossEncoder with num_labels=1 (one score per pair), got "
                f"{model.num_labels} labels. Build the model with num_labels=1, or use CrossEntropyLoss for "
                "classes."
            )
        super().__init__(model)

    @abstractmethod
    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """Compute the loss of one batch.

        Args:
            inputs: The batch's input columns by position, each a list of texts (or of lists of texts).
            labels: ``(batch,)`` or ``(batch, k)`` labels, a list of per-row label tensors (listwise data), or
                None.
            prompt: Prompt prepended to every query, or None.
            task: Routing task for models with a Router, or None.

        Returns:
            A scalar tensor.
        """

    def logits(self, pairs: Sequence[Sequence[str]], prompt: str | None = None, task: str | None = None) -> Tensor:
        """The model's logits ``(len(pairs), num_labels)`` for ``(query, document)`` pairs, with gradients."""
        kwargs: dict[str, Any] = {"prompt": prompt}
        if task is not None:
            kwargs["task"] = task
        features = to_device(self.model.preprocess(list(pairs), **kwargs), self.model.device)
        return self.model(features, **({"task": task} if task is not None else {}))["scores"]
