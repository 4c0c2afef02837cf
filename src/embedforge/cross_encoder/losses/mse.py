"""MSELoss: regress a cross-encoder's score of each pair onto a target score (a teacher's, or a gold label).

The checks of the pointwise losses (two text columns, one label per pair) live here too, shared by
BinaryCrossEntropyLoss and CrossEntropyLoss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.losses.base import InputSpec, LabelKind
from embedforge.losses.functional.pairs import regression_operands
from embedforge.model.protocols import ScoringModel

__all__ = ["MSELoss", "check_pair_columns", "check_pointwise_labels"]


class MSELoss(CrossEncoderLoss):
    r"""Mean squared error between each pair's score and its target score.

    With ``s_i`` the model's logit for pair ``i`` after ``activation_fn`` and ``t_i`` the target::

        loss = mean_i (s_i - t_i)²

    The usual use is distillation: a strong teacher cross-encoder scores the pairs offline (the label column) and a
    smaller student learns to reproduce those scores (Hofstätter et al. 2021). Mind the scale of both sides: if the
    teacher's scores went through a sigmoid (in [0, 1]), give the student ``activation_fn=torch.nn.Sigmoid()`` too.

    =================================================  ======================================  =============
    Inputs                                             Labels                                  ``num_labels``
    =================================================  ======================================  =============
    (text_A, text_B) pairs                             target score (e.g. a teacher's logit)   1
    =================================================  ======================================  =============

    Related: :class:`~embedforge.cross_encoder.losses.MarginMSELoss` distills the teacher's margin between two
    documents of the same query instead of absolute scores;
    :class:`~embedforge.cross_encoder.losses.BinaryCrossEntropyLoss` for 0/1 or [0, 1] labels.

    References:
        Hofstätter et al. 2021, "Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
        Distillation", https://arxiv.org/abs/2010.02666; :class:`torch.nn.MSELoss`.

    Args:
        model: A cross-encoder with ``num_labels=1`` (the student).
        activation_fn: Applied to the logits before the loss; :class:`torch.nn.Identity` by default.
        **kwargs: Passed to :class:`torch.nn.MSELoss` (``reduction``).

    Raises:
        ValueError: If ``model`` is not a cross-encoder or has more than one label.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import MSELoss
        >>> student = CrossEncoder("path/to/small-model")  # doctest: +SKIP
        >>> teacher = CrossEncoder("path/to/large-reranker")  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> answers = ["Pandas are a kind of bear.", "The capital of France is Paris."]
        >>> targets = teacher.predict(list(zip(queries, answers)), activation_fn=torch.nn.Identity(),
        ...                           convert_to_tensor=True)  # doctest: +SKIP
        >>> MSELoss(student)([queries, answers], targets).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2, max_texts=2, label=LabelKind.FLOAT, description="(text_A, text_B) pairs with a target score"
    )
    config_keys = ("activation_fn",)

    def __init__(
        self,
        model: ScoringModel,
        activation_fn: nn.Module = nn.Identity(),  # noqa: B008 - sentence-transformers' signature
        **kwargs: Any,
    ) -> None:
        super().__init__(model)
        self.activation_fn = activation_fn
        self.loss_fct = nn.MSELoss(**kwargs)

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
            labels: ``(batch,)`` (or ``(batch, 1)``) target scores.
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
        return self.loss_fct(*regression_operands(logits, targets.detach().float()))


def check_pair_columns(owner: str, inputs: Sequence[Sequence[Any]]) -> None:
    """Check that a pointwise loss got exactly two text columns of equal length.

    Args:
        owner: The loss's class name, for the message.
        inputs: The batch's input columns.

    Raises:
        ValueError: Naming the number (or lengths) of columns found and how to fix the dataset.
    """
    if len(inputs) != 2:
        raise ValueError(
            f"{owner} expects exactly 2 text columns (text_A, text_B) besides the label, got {len(inputs)}. Keep "
            "only the two text columns and the label, e.g. dataset.select_columns(['query', 'document', 'label'])."
        )
    if len(inputs[0]) != len(inputs[1]):
        raise ValueError(
            f"{owner} expects two text columns of the same length, got {len(inputs[0])} and {len(inputs[1])} texts. "
            "Pass one text of each column per row."
        )


def check_pointwise_labels(owner: str, labels: Tensor | list[Tensor] | None, batch_size: int) -> Tensor:
    """The labels of a pointwise loss as a ``(batch,)`` tensor: one number per pair.

    Args:
        owner: The loss's class name, for the message.
        labels: The batch's labels: ``(batch,)`` or ``(batch, 1)``.
        batch_size: Number of pairs.

    Returns:
        ``(batch,)`` labels.

    Raises:
        ValueError: Without labels, or with another number of labels than pairs.
    """
    if labels is None:
        raise ValueError(f"{owner} needs one label per pair, got none. Add a 'label' (or 'score') column.")
    if isinstance(labels, list):
        raise ValueError(
            f"{owner} expects one number per pair, got a list of {len(labels)} label tensors (a list column). Store "
            "one float per row in the label column."
        )
    if labels.numel() != batch_size:
        raise ValueError(
            f"{owner} expects {batch_size} labels (one per pair), got {labels.numel()} with shape "
            f"{tuple(labels.shape)}. Store one number per row in the label column."
        )
    return labels.reshape(-1)
