"""The documentation's older ``CrossEncoder.fit`` API, run through ``CrossEncoderTrainer``.

``fit`` reads the ``DataLoader`` of :class:`~embedforge.InputExample` pairs into a ``datasets.Dataset``, builds the
loss (``BinaryCrossEntropyLoss`` for one label, ``CrossEntropyLoss`` otherwise, or the given ``loss_fct`` applied to
the logits), translates the legacy arguments into :class:`CrossEncoderTrainingArguments` and trains. The evaluator
runs every ``evaluation_steps`` steps and at the end of every epoch; with ``save_best_model`` the best model is saved
to ``output_path`` (without an evaluator, the final model is). New code should use the trainer directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.losses.base import InputSpec, LabelKind
from embedforge.losses.functional.pairs import regression_operands
from embedforge.training._fit_data import (
    LegacyLoader,
    batch_sampler_of,
    batch_size_of,
    examples_to_dataset,
    read_examples,
)
from embedforge.training.arguments import BatchSamplers
from embedforge.training.fit import (
    DEFAULT_OPTIMIZER_PARAMS,
    LegacyFitCallback,
    build_optimizer,
    default_checkpoint_dir,
    learning_rate_of,
    legacy_training_arguments,
)

if TYPE_CHECKING:
    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.evaluation.base import SentenceEvaluator


class LogitsLoss(CrossEncoderLoss):
    """A plain torch loss on the logits of (text, text) pairs: what ``fit(loss_fct=...)`` trains with.

    For one label the logits are flattened to ``(batch,)`` and the labels cast to float (e.g. for
    ``nn.BCEWithLogitsLoss`` or ``nn.MSELoss``); otherwise the logits stay ``(batch, num_labels)`` and the labels are
    class indices (``nn.CrossEntropyLoss``).

    Args:
        model: The cross-encoder.
        loss_fct: ``loss_fct(activation_fn(logits), labels)`` is the loss.
        activation_fn: Applied to the logits first.
    """

    requires_one_label: ClassVar[bool] = False
    input_spec: ClassVar[InputSpec] = InputSpec(2, 2, LabelKind.ANY, "(text_a, text_b) pairs with a label")

    def __init__(self, model: CrossEncoder, loss_fct: nn.Module, activation_fn: nn.Module) -> None:
        super().__init__(model)
        self.loss_fct = loss_fct
        self.activation_fn = activation_fn

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """``loss_fct(activation(logits), labels)`` over the batch's pairs."""
        if len(inputs) != 2 or not isinstance(labels, Tensor):
            raise ValueError(
                f"fit(loss_fct=...) trains on (text, text) pairs with one label each; got {len(inputs)} text columns "
                f"and labels of type {type(labels).__name__}. Give every InputExample two texts and a label."
            )
        logits = self.logits(list(zip(inputs[0], inputs[1], strict=True)), prompt, task)
        if self.model.num_labels == 1:
            return self.loss_fct(*regression_operands(self.activation_fn(logits.view(-1)), labels.float().view(-1)))
        return self.loss_fct(self.activation_fn(logits), labels.long())


def fit(
    model: CrossEncoder,
    train_dataloader: LegacyLoader,
    evaluator: SentenceEvaluator | None = None,
    epochs: int = 1,
    loss_fct: nn.Module | None = None,
    activation_fct: nn.Module | None = None,
    scheduler: str = "WarmupLinear",
    warmup_steps: int = 10000,
    optimizer_class: type[torch.optim.Optimizer] = torch.optim.AdamW,
    optimizer_params: Mapping[str, Any] = DEFAULT_OPTIMIZER_PARAMS,
    weight_decay: float = 0.01,
    evaluation_steps: int = 0,
    output_path: str | None = None,
    save_best_model: bool = True,
    max_grad_norm: float = 1,
    use_amp: bool = False,
    callback: Callable[[float, float, int], Any] | None = None,
    show_progress_bar: bool = True,
) -> None:
    """Train ``model`` (in place) on a DataLoader of InputExample pairs with :class:`CrossEncoderTrainer`.

    Args:
        model: The cross-encoder.
        train_dataloader: A torch DataLoader over InputExamples with two texts and a label each.
        evaluator: Run during training; its ``primary_metric`` selects the best model.
        epochs: Number of epochs.
        loss_fct: A torch loss on ``(logits, labels)``; default ``BinaryCrossEntropyLoss`` for one label, else
            ``CrossEntropyLoss``.
        activation_fct: Applied to the logits before the loss (default identity).
        scheduler: A legacy scheduler name (``WarmupLinear``, ``WarmupCosine``, ``ConstantLR``…).
        warmup_steps: Steps of linear learning-rate warm-up.
        optimizer_class: Built with ``optimizer_params`` (default ``{"lr": 2e-5}``) over the model's parameters.
        optimizer_params: Keyword arguments of ``optimizer_class``.
        weight_decay: Weight decay of every parameter except biases and LayerNorm weights.
        evaluation_steps: If > 0 (and an evaluator is given), evaluate every that many steps.
        output_path: Where the best (without an evaluator: the final) model is saved.
        save_best_model: With an evaluator, save the best model so far after every evaluation.
        max_grad_norm: Gradient clipping norm.
        use_amp: Train in float16 mixed precision.
        callback: Called as ``callback(score, epoch, steps)`` after every evaluation with the primary metric.
        show_progress_bar: Show the trainer's progress bars.
    """
    from embedforge.cross_encoder.trainer import CrossEncoderTrainer
    from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments

    dataset = examples_to_dataset(read_examples(train_dataloader))
    loss = _legacy_loss(model, loss_fct, activation_fct or nn.Identity())
    optimizer = build_optimizer(model, {}, optimizer_class, optimizer_params, weight_decay)
    args = legacy_training_arguments(
        output_dir=default_checkpoint_dir(),
        batch_size=batch_size_of(train_dataloader, 16, 1),
        batch_sampler=batch_sampler_of(train_dataloader, BatchSamplers.BATCH_SAMPLER),
        epochs=epochs,
        steps_per_epoch=None,
        scheduler=scheduler,
        warmup_steps=warmup_steps,
        learning_rate=learning_rate_of(optimizer),
        weight_decay=weight_decay,
        evaluation_steps=evaluation_steps if evaluator is not None else 0,
        max_grad_norm=max_grad_norm,
        use_amp=use_amp,
        show_progress_bar=show_progress_bar,
        checkpoint_save_steps=None,
        checkpoint_save_total_limit=0,
        arguments_class=CrossEncoderTrainingArguments,
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        loss=loss,
        evaluator=evaluator,
        optimizers=(optimizer, None),
    )
    trainer.add_callback(LegacyFitCallback(trainer.evaluator, output_path, save_best_model, callback))
    trainer.train()


def _legacy_loss(model: CrossEncoder, loss_fct: nn.Module | None, activation: nn.Module) -> nn.Module:
    from embedforge.cross_encoder import losses

    if loss_fct is not None:
        return LogitsLoss(model, loss_fct, activation)
    if model.num_labels == 1:
        return losses.BinaryCrossEntropyLoss(model, activation_fn=activation)
    return losses.CrossEntropyLoss(model, activation_fn=activation)
