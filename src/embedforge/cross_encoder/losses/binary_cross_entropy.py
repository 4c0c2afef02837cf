"""BinaryCrossEntropyLoss: a cross-encoder's one score per pair against a 0/1 (or [0, 1]) relevance label."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.cross_encoder.losses.mse import check_pair_columns, check_pointwise_labels
from embedforge.losses.base import InputSpec, LabelKind
from embedforge.model.protocols import ScoringModel

__all__ = ["BinaryCrossEntropyLoss"]


class BinaryCrossEntropyLoss(CrossEncoderLoss):
    r"""Binary cross-entropy between each pair's logit (as a probability through a sigmoid) and its label.

    With ``z_i`` the model's logit for pair ``i`` after ``activation_fn`` and ``y_i`` its label in [0, 1]::

        loss = mean_i -w_i [ p · y_i · log σ(z_i) + (1 - y_i) · log(1 - σ(z_i)) ]

    where ``p`` is ``pos_weight`` (1 by default) and ``w_i`` an optional ``weight``; this is
    :class:`torch.nn.BCEWithLogitsLoss`, so the sigmoid is folded into the loss (numerically stable) and the model
    keeps producing raw logits, which :meth:`~embedforge.CrossEncoder.predict` turns into probabilities with its
    default ``Sigmoid``. The standard way to train a reranker (e.g. the MS MARCO cross-encoders).

    =================================================  ======================================  =============
    Inputs                                             Labels                                  ``num_labels``
    =================================================  ======================================  =============
    (anchor, positive/negative) pairs                  1 if relevant, 0 if not                 1
    (text_A, text_B) pairs                             a similarity score in [0, 1]            1
    =================================================  ======================================  =============

    Hard negatives mined with ``mine_hard_negatives(..., output_format="labeled-pair")`` give the first layout.

    Related: :class:`~embedforge.cross_encoder.losses.MSELoss` regresses onto scores instead;
    :class:`~embedforge.cross_encoder.losses.CrossEntropyLoss` for several classes;
    :class:`~embedforge.cross_encoder.losses.MultipleNegativesRankingLoss` needs no labels.

    References:
        :class:`torch.nn.BCEWithLogitsLoss`; the sentence-transformers cross-encoder training examples (STS,
        Quora duplicate questions, MS MARCO, rerankers).

    Args:
        model: A cross-encoder with ``num_labels=1``.
        activation_fn: Applied to the logits before the loss; :class:`torch.nn.Identity` by default (the loss
            already includes the sigmoid).
        pos_weight: Weight of the positive term, e.g. ``torch.tensor(4.0)`` (or ``4.0``: a number is accepted too, as
            recipes give it) to weigh positives four times; None for 1.
        **kwargs: Passed to :class:`torch.nn.BCEWithLogitsLoss` (``weight``, ``reduction``).

    Raises:
        ValueError: If ``model`` is not a cross-encoder or has more than one label.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss
        >>> model = CrossEncoder("path/to/model")  # doctest: +SKIP
        >>> loss = BinaryCrossEntropyLoss(model)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What are pandas?"]
        >>> answers = ["Pandas are a kind of bear.", "Pandas are a kind of fish."]
        >>> loss([queries, answers], torch.tensor([1.0, 0.0])).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2,
        max_texts=2,
        label=LabelKind.PROBABILITY,
        description="(anchor, positive/negative) pairs with 1/0 labels, or (text_A, text_B) pairs with a score in "
        "[0, 1]",
    )
    config_keys = ("activation_fn", "pos_weight")

    def __init__(
        self,
        model: ScoringModel,
        activation_fn: nn.Module = nn.Identity(),  # noqa: B008 - sentence-transformers' signature
        pos_weight: Tensor | float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model)
        if pos_weight is not None and not isinstance(pos_weight, Tensor):
            pos_weight = torch.tensor(float(pos_weight))
        self.activation_fn = activation_fn
        self.pos_weight = pos_weight
        self.bce_with_logits_loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight, **kwargs)

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """Score every pair and compute the loss.

        Args:
            inputs: ``[texts_A, texts_B]``, two lists of ``batch`` texts.
            labels: ``(batch,)`` (or ``(batch, 1)``) labels in [0, 1].
            prompt: Prompt prepended to every first text, or None.
            task: Routing task for models with a Router, or None.

        Returns:
            A scalar tensor (with the default ``reduction="mean"``).

        Raises:
            ValueError: For a number of columns other than 2, or labels that are not one number per pair.
        """
        check_pair_columns(type(self).__name__, inputs)
        logits = self.activation_fn(self.logits(list(zip(inputs[0], inputs[1], strict=True)), prompt, task).view(-1))
        targets = check_pointwise_labels(type(self).__name__, labels, logits.shape[0])
        return self.bce_with_logits_loss(logits, targets.to(logits.device).float())

    def get_config_dict(self) -> dict[str, Any]:
        """``activation_fn`` (its dotted class name) and ``pos_weight`` (a number, or None)."""
        pos_weight = None if self.pos_weight is None else self.pos_weight.item()
        return {**super().get_config_dict(), "pos_weight": pos_weight}
