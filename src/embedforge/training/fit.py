"""The pre-v3 ``model.fit`` API, run through :class:`~embedforge.SentenceTransformerTrainer` as sentence-transformers 6.

``fit`` reads each ``(DataLoader of InputExample, loss)`` objective into a ``datasets.Dataset``, translates the
legacy arguments into :class:`~embedforge.SentenceTransformerTrainingArguments`, and trains. Each objective's
batches come in turn (round robin) until the smallest objective runs out; the evaluator runs every
``evaluation_steps`` steps and at the end of every epoch. New code should use the
trainer directly: it has every option this API lacks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from embedforge.evaluation.base import SentenceEvaluator
from embedforge.training._fit_data import LegacyLoader, convert_objectives
from embedforge.training.arguments import (
    BaseTrainingArguments,
    BatchSamplers,
    MultiDatasetBatchSamplers,
    SentenceTransformerTrainingArguments,
)
from embedforge.training.optimizer import parameter_groups

if TYPE_CHECKING:
    from embedforge.model.sentence_transformer import SentenceTransformer

logger = logging.getLogger(__name__)

__all__ = [
    "LR_SCHEDULER_TYPES",
    "LegacyFitCallback",
    "build_optimizer",
    "default_checkpoint_dir",
    "fit",
    "learning_rate_of",
    "legacy_training_arguments",
]

LR_SCHEDULER_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "constantlr": "constant",
        "warmupconstant": "constant_with_warmup",
        "warmuplinear": "linear",
        "warmupcosine": "cosine",
        "warmupcosinewithhardrestarts": "cosine_with_restarts",
    }
)
"""Legacy scheduler names (lower-cased) → ``lr_scheduler_type``; each builds the same transformers schedule."""

NO_DECAY_MARKERS: tuple[str, ...] = ("bias", "LayerNorm.bias", "LayerNorm.weight")
"""Parameters whose name contains one of these get no weight decay (the legacy rule)."""

DEFAULT_OPTIMIZER_PARAMS: Mapping[str, Any] = MappingProxyType({"lr": 2e-5})

LegacyCallback = Callable[[float, float, int], Any]


def fit(
    model: SentenceTransformer,
    train_objectives: Iterable[tuple[LegacyLoader, nn.Module]],
    evaluator: SentenceEvaluator | None = None,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
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
    callback: LegacyCallback | None = None,
    show_progress_bar: bool = True,
    checkpoint_path: str | None = None,
    checkpoint_save_steps: int = 500,
    checkpoint_save_total_limit: int = 0,
    resume_from_checkpoint: bool = False,
) -> None:
    """Train ``model`` on legacy objectives (round robin, see the module docstring) with the trainer.

    Args:
        model: The model to train (in place).
        train_objectives: ``(loader, loss)`` pairs; a loader yields InputExamples at its batch size (a
            NoDuplicatesDataLoader selects ``no_duplicates`` batches).
        evaluator: Run during training; its ``primary_metric`` selects the best model.
        epochs: Number of epochs.
        steps_per_epoch: With ``epochs=1``, the number of training steps (``max_steps``); ignored otherwise.
        scheduler: A legacy scheduler name of :data:`LR_SCHEDULER_TYPES` (case-insensitive).
        warmup_steps: Steps of linear learning-rate warm-up (ignored by ``constantlr``).
        optimizer_class: Built with ``optimizer_params`` (default ``{"lr": 2e-5}``) over model and loss parameters.
        optimizer_params: Keyword arguments of ``optimizer_class``.
        weight_decay: Weight decay of every parameter except biases and LayerNorm weights.
        evaluation_steps: If > 0 (and an evaluator is given), evaluate every that many steps.
        output_path: Where the final (with an evaluator and ``save_best_model``: the best) model is saved.
        save_best_model: With an evaluator, save the best model so far to ``output_path`` after evaluations.
        max_grad_norm: Gradient clipping norm.
        use_amp: Train in float16 mixed precision.
        callback: Called as ``callback(score, epoch, steps)`` after every evaluation with the primary metric.
        show_progress_bar: Show the trainer's progress bars.
        checkpoint_path: Folder of ``checkpoint-<step>`` checkpoints and ``eval/`` results (default: output_path).
        checkpoint_save_steps: Save a checkpoint every that many steps (with ``checkpoint_path``).
        checkpoint_save_total_limit: Keep at most that many checkpoints (0: all).
        resume_from_checkpoint: Resume from the latest checkpoint in ``checkpoint_path``, if there is one.
    """
    from embedforge.training.trainer import SentenceTransformerTrainer

    data = convert_objectives(train_objectives)
    optimizer = build_optimizer(model, data.losses, optimizer_class, optimizer_params, weight_decay)
    save_steps = checkpoint_save_steps if checkpoint_path is not None and checkpoint_save_steps > 0 else None
    args = legacy_training_arguments(
        output_dir=checkpoint_path or output_path or default_checkpoint_dir(),
        batch_size=data.batch_size,
        batch_sampler=data.batch_sampler,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        scheduler=scheduler,
        warmup_steps=warmup_steps,
        learning_rate=learning_rate_of(optimizer),
        weight_decay=weight_decay,
        evaluation_steps=evaluation_steps if evaluator is not None else 0,
        max_grad_norm=max_grad_norm,
        use_amp=use_amp,
        show_progress_bar=show_progress_bar,
        checkpoint_save_steps=save_steps,
        checkpoint_save_total_limit=checkpoint_save_total_limit,
    )
    trainer = SentenceTransformerTrainer(  # the scheduler is built from args.lr_scheduler_type
        model=model,
        args=args,
        train_dataset=data.datasets,
        loss=data.losses,
        evaluator=evaluator,
        optimizers=(optimizer, None),
    )
    trainer.add_callback(LegacyFitCallback(trainer.evaluator, output_path, save_best_model, callback))
    trainer.train(resume_from_checkpoint=_checkpoint_to_resume(checkpoint_path, resume_from_checkpoint))


def legacy_training_arguments(
    *,
    output_dir: str,
    batch_size: int,
    batch_sampler: BatchSamplers,
    epochs: int,
    steps_per_epoch: int | None,
    scheduler: str,
    warmup_steps: int,
    learning_rate: float | None,
    weight_decay: float,
    evaluation_steps: int,
    max_grad_norm: float,
    use_amp: bool,
    show_progress_bar: bool,
    checkpoint_save_steps: int | None,
    checkpoint_save_total_limit: int,
    arguments_class: type[BaseTrainingArguments] = SentenceTransformerTrainingArguments,
) -> BaseTrainingArguments:
    """The training arguments equivalent to the legacy ``fit`` arguments.

    Args mean what they mean in :func:`fit`; ``checkpoint_save_steps=None`` saves no checkpoints and
    ``evaluation_steps=0`` evaluates only at epoch ends. ``learning_rate`` (None: the TrainingArguments default)
    and ``weight_decay`` describe the optimizer that ``fit`` builds itself. ``arguments_class`` is the model
    family's training-arguments class.

    Returns:
        Arguments with ROUND_ROBIN multi-dataset sampling and ``max_steps`` from ``steps_per_epoch``.

    Raises:
        ValueError: For an unknown ``scheduler`` name.
    """
    optional = {"learning_rate": learning_rate} if learning_rate is not None else {}
    return arguments_class(
        **optional,
        output_dir=output_dir,
        batch_sampler=batch_sampler,
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.ROUND_ROBIN,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        num_train_epochs=epochs,
        max_steps=_max_steps(steps_per_epoch, epochs),
        lr_scheduler_type=lr_scheduler_type(scheduler),
        warmup_steps=warmup_steps,
        weight_decay=weight_decay,
        eval_strategy="steps" if evaluation_steps > 0 else "no",
        eval_steps=evaluation_steps,
        max_grad_norm=max_grad_norm,
        fp16=use_amp,
        disable_tqdm=not show_progress_bar,
        save_strategy="steps" if checkpoint_save_steps is not None else "no",
        save_steps=checkpoint_save_steps or 500,
        save_total_limit=checkpoint_save_total_limit,
    )


def lr_scheduler_type(scheduler: str) -> str:
    """The ``lr_scheduler_type`` of a legacy scheduler name (case-insensitive).

    Raises:
        ValueError: If the name is not one of :data:`LR_SCHEDULER_TYPES`.
    """
    try:
        return LR_SCHEDULER_TYPES[scheduler.lower()]
    except KeyError:
        raise ValueError(
            f"Unknown scheduler {scheduler!r}; fit() accepts {sorted(LR_SCHEDULER_TYPES)} (any case). For other "
            "schedules use SentenceTransformerTrainer with lr_scheduler_type=..."
        ) from None


def build_optimizer(
    model: nn.Module,
    losses: Mapping[str, nn.Module],
    optimizer_class: type[torch.optim.Optimizer],
    optimizer_params: Mapping[str, Any],
    weight_decay: float,
) -> torch.optim.Optimizer:
    """The legacy optimizer: every trainable parameter of the model and losses, once, in two weight-decay groups.

    Args:
        model: The model being trained.
        losses: The losses (their own parameters, e.g. a classifier head, are trained too).
        optimizer_class: Optimizer class.
        optimizer_params: Its keyword arguments.
        weight_decay: Decay of all parameters but those named with a :data:`NO_DECAY_MARKERS` entry.

    Returns:
        The optimizer.
    """
    named = list(nn.ModuleDict({"model": model, **losses}).named_parameters())
    decay = {name for name, _ in named if not any(marker in name for marker in NO_DECAY_MARKERS)}
    return optimizer_class(parameter_groups(named, decay, weight_decay, {}), **optimizer_params)


def learning_rate_of(optimizer: torch.optim.Optimizer) -> float | None:
    """The optimizer's default learning rate, if it has a numeric one (Adafactor's may be None)."""
    value = optimizer.defaults.get("lr")
    return float(value) if isinstance(value, (int, float)) else None


def default_checkpoint_dir() -> str:
    """``checkpoints/model`` (or ``checkpoints/model_<n>`` when taken) under the working directory."""
    folder, index = Path("checkpoints/model"), 0
    while folder.is_dir() and any(folder.iterdir()):
        index += 1
        folder = Path(f"checkpoints/model_{index}")
    return str(folder)


def _max_steps(steps_per_epoch: int | None, epochs: int) -> int:
    if steps_per_epoch is None or steps_per_epoch <= 0:
        return -1
    if epochs == 1:
        return steps_per_epoch
    logger.warning(
        "steps_per_epoch=%d with epochs=%d > 1 is ignored: every epoch uses the full datasets.", steps_per_epoch, epochs
    )
    return -1


def _checkpoint_to_resume(checkpoint_path: str | None, resume: bool) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if checkpoint_path is None or not resume:
        return None
    if not os.path.isdir(checkpoint_path):
        logger.warning("Not resuming: checkpoint_path %s is not a folder.", checkpoint_path)
        return None
    checkpoint = get_last_checkpoint(checkpoint_path)
    if checkpoint is None:
        logger.warning("Not resuming: no checkpoint-<step> folder in %s.", checkpoint_path)
    else:
        logger.info("Resuming from %s.", checkpoint)
    return checkpoint


class LegacyFitCallback(TrainerCallback):
    """The legacy ``fit`` behaviours: evaluation at every epoch end, best-model saving and ``callback(score, ...)``.

    Args:
        evaluator: The trainer's evaluator (None: no evaluation; the model is saved when training ends).
        output_path: Where the model is saved; None saves nothing.
        save_best_model: With an evaluator, save after every evaluation that improves the primary metric.
        callback: Called as ``callback(score, epoch, global_step)`` after every evaluation.
    """

    def __init__(
        self,
        evaluator: Any | None,
        output_path: str | None,
        save_best_model: bool,
        callback: LegacyCallback | None,
    ) -> None:
        self.evaluator = evaluator
        self.output_path = output_path
        self.save_best_model = save_best_model
        self.callback = callback
        self.best_score: float | None = None
        self._last_evaluated_step: int | None = None

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        """Ask for an evaluation, unless the model was just evaluated at this step."""
        if self.evaluator is not None and state.global_step != self._last_evaluated_step:
            control.should_evaluate = True
        return control

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        model: SentenceTransformer | None = None,
        **kwargs: Any,
    ) -> None:
        """Call the legacy callback with the primary metric and save the model if it is the best so far."""
        self._last_evaluated_step = state.global_step
        score = self._primary_score(metrics or {})
        if score is None:
            return
        if self.callback is not None:
            self.callback(score, state.epoch, state.global_step)
        if self._is_better(score):
            self.best_score = score
            if self.save_best_model and self.output_path is not None and model is not None:
                model.save(self.output_path)

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: SentenceTransformer | None = None,
        **kwargs: Any,
    ) -> None:
        """Without an evaluator, save the final model to ``output_path``."""
        if self.evaluator is None and self.output_path is not None and model is not None:
            model.save(self.output_path)

    def _primary_score(self, metrics: Mapping[str, float]) -> float | None:
        key = "evaluator"
        if isinstance(self.evaluator, SentenceEvaluator) and self.evaluator.primary_metric:
            key = self.evaluator.primary_metric
        return next((float(value) for name, value in metrics.items() if name.endswith(key)), None)

    def _is_better(self, score: float) -> bool:
        if self.best_score is None:
            return True
        greater = not isinstance(self.evaluator, SentenceEvaluator) or self.evaluator.greater_is_better
        return score > self.best_score if greater else score < self.best_score
