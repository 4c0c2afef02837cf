"""CrossEntropyLoss: train a cross-encoder as a pair classifier over its ``num_labels`` classes."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.cross_encoder.losses.mse import check_pair_columns
from embedforge.losses.base import InputSpec, LabelKind
from embedforge.model.protocols import ScoringModel

__all__ = ["CrossEntropyLoss"]


class CrossEntropyLoss(CrossEncoderLoss):
    r"""Softmax cross-entropy between each pair's ``num_labels`` logits and its class.

    With ``z_i`` the model's ``(num_labels,)`` logits for pair ``i`` after ``activation_fn`` and ``y_i`` its class::

        loss = mean_i -log softmax(z_i)[y_i]

    This is :class:`torch.nn.CrossEntropyLoss`, so its options apply (class ``weight``, ``ignore_index`` rows,
    ``label_smoothing``, ``reduction``), and a row may also give class probabilities ``(num_labels,)`` instead of
    a class index. The number of classes is the model's ``num_labels`` (e.g. 3 for NLI: contradiction,
    entailment, neutral); :meth:`~embedforge.CrossEncoder.predict` with ``apply_softmax=True`` then gives the class
    probabilities.

    =================================================  ======================================  =============
    Inputs                                             Labels                                  ``num_labels``
    =================================================  ======================================  =============
    (text_A, text_B) pairs                             class index in ``0 .. num_labels - 1``  number of classes
    =================================================  ======================================  =============

    Related: :class:`~embedforge.cross_encoder.losses.BinaryCrossEntropyLoss` for one relevance score
    (``num_labels=1``).

    References:
        :class:`torch.nn.CrossEntropyLoss`; the sentence-transformers cross-encoder NLI training example.

    Args:
        model: A cross-encoder whose ``num_labels`` is the number of classes.
        activation_fn: Applied to the logits before the loss; :class:`torch.nn.Identity` by default.
        **kwargs: Passed to :class:`torch.nn.CrossEntropyLoss` (``weight``, ``ignore_index``, ``reduction``,
            ``label_smoothing``).

    Raises:
        ValueError: If ``model`` is not a cross-encoder.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import CrossEntropyLoss
        >>> model = CrossEncoder("path/to/model", num_labels=2)  # doctest: +SKIP
        >>> first = ["How can I be a good geologist?", "What is the capital of France?"]
        >>> second = ["What should I do to be a great geologist?", "What is the capital of Germany?"]
        >>> CrossEntropyLoss(model)([first, second], torch.tensor([1, 0])).backward()  # doctest: +SKIP
    """

    requires_one_label: ClassVar[bool] = False
    input_spec = InputSpec(
        min_texts=2, max_texts=2, label=LabelKind.INT, description="(text_A, text_B) pairs with a class index"
    )

    def __init__(
        self,
        model: ScoringModel,
        activation_fn: nn.Module = nn.Identity(),  # noqa: B008 - sentence-transformers' signature
        **kwargs: Any,
    ) -> None:
        super().__init__(model)
        self.activation_fn = activation_fn
        self.ce_loss = nn.CrossEntropyLoss(**kwargs)

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """Compute every pair's class logits and the loss.

        Args:
            inputs: ``[texts_A, texts_B]``, two lists of ``batch`` texts.
            labels: ``(batch,)`` (or ``(batch, 1)``) integer classes, or ``(batch, num_labels)`` float class
                probabilities.
            prompt: Prompt prepended to every first text, or None.
            task: Routing task for models with a Router, or None.

        Returns:
            A scalar tensor (with the default ``reduction="mean"``).

        Raises:
            ValueError: For a number of columns other than 2, or labels of another shape, type or range.
        """
        check_pair_columns(type(self).__name__, inputs)
        logits = self.activation_fn(self.logits(list(zip(inputs[0], inputs[1], strict=True)), prompt, task))
        targets = self._targets(labels, logits.shape[0], logits.shape[1])
        return self.ce_loss(logits, targets.to(logits.device))

    def _targets(self, labels: Tensor | list[Tensor] | None, batch_size: int, num_classes: int) -> Tensor:
        """``(batch,)`` class indices or ``(batch, num_classes)`` probabilities, checked."""
        owner = type(self).__name__
        if not isinstance(labels, Tensor):
            found = "none" if labels is None else f"a list of {len(labels)} tensors"
            raise ValueError(
                f"{owner} needs one class index per pair as labels, got {found}. Add an integer 'label' column."
            )
        if labels.is_floating_point():
            if labels.shape != (batch_size, num_classes):
                raise ValueError(
                    f"{owner} got float labels of shape {tuple(labels.shape)}; it expects integer class indices "
                    f"({batch_size},) or class probabilities ({batch_size}, {num_classes}). Cast the label column "
                    "to int, e.g. dataset.cast_column('label', datasets.Value('int64'))."
                )
            return labels
        if labels.shape not in ((batch_size,), (batch_size, 1)):
            raise ValueError(
                f"{owner} expects one class index per pair, shape ({batch_size},), got labels of shape "
                f"{tuple(labels.shape)}. Store one integer per row in the label column."
            )
        labels = labels.reshape(-1)
        ignored = labels == self.ce_loss.ignore_index
        outside = ((labels < 0) | (labels >= num_classes)) & ~ignored
        if bool(outside.any()):
            raise ValueError(
                f"{owner}: the model has num_labels={num_classes} classes (0 .. {num_classes - 1}), but the labels "
                f"hold {sorted(set(labels[outside].tolist()))}. Build the model with num_labels equal to the number "
                "of classes, or map the labels to 0 .. num_labels - 1."
            )
        return labels
