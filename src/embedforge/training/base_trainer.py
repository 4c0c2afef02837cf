"""BaseTrainer: transformers' Trainer with what every model family's trainer shares.

Up-front data validation (every problem before step 1), losses per dataset, batch samplers and multi-dataset
interleaving, prompts, evaluators during evaluation, an optimizer over the losses' parameters, checkpoints in the
sentence-transformers folder format, resume and ``load_best_model_at_end``, and the model card. A family's trainer
fills four hooks: its default loss (:meth:`BaseTrainer.default_loss`), its collator
(:meth:`BaseTrainer.default_collator`), how a loss is called on a collated batch (:meth:`BaseTrainer.call_loss`),
and which class reloads a checkpoint (``model_class``); and may add its own dataset rules
(:meth:`BaseTrainer.check_datasets`).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback

from embedforge.data.validation import as_dataset_dict, validate_datasets
from embedforge.engine.compile_notice import compile_notice
from embedforge.engine.gpu_defaults import apply_gpu_defaults
from embedforge.training import checkpoints, dataloaders, distributed, fsdp
from embedforge.training.arguments import BaseTrainingArguments
from embedforge.training.model_init import ModelInit, fresh_model, initial_model, losses_for_new_model
from embedforge.training.nonfinite import check_loss
from embedforge.training.optimizer import parameter_groups

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from transformers.trainer_utils import EvalLoopOutput, TrainOutput

    from embedforge.data.collator import BaseDataCollator
    from embedforge.model.base import BaseModel

logger = logging.getLogger(__name__)

TRAINING_ARGS_NAME = "training_args.bin"
LossArgument = nn.Module | dict[str, nn.Module] | Callable[[Any], nn.Module] | None


class BaseTrainer(Trainer, ABC):
    """Train a model of one family with one or more losses on one or more datasets.

    Everything of :class:`transformers.Trainer` applies (callbacks, logging integrations, mixed precision,
    gradient accumulation, torchrun DDP, resuming, ``load_best_model_at_end``). Before training starts, every
    dataset is checked against its loss and all problems are reported at once. Checkpoints are saved in the
    sentence-transformers format.

    Args:
        model: The model to train (or use ``model_init``).
        args: Training arguments; default ``SentenceTransformerTrainingArguments(output_dir="tmp_trainer")``.
        train_dataset: A ``datasets.Dataset``, a ``DatasetDict`` or a ``dict`` of them (multi-dataset training).
        eval_dataset: Same forms; the evaluation loss is reported per dataset.
        loss: A loss module, a ``{dataset name: loss}`` dict, or a callable ``model -> loss``; default: the family's
            (:meth:`default_loss`).
        evaluator: An evaluator or a list of them, run at every evaluation; their metrics are logged with an
            ``eval_`` prefix and can be ``metric_for_best_model``.
        data_collator: Replaces the family's collator.
        processing_class: Saved with checkpoints if given (the model's tokenizer is saved anyway).
        model_init: A callable returning a fresh model, taking no argument or the search trial; called again at
            each ``train()`` (hyperparameter search), and the losses are moved onto the new model.
        compute_metrics: Not used (evaluators compute the metrics); accepted for signature compatibility.
        callbacks: Extra ``transformers.TrainerCallback`` instances.
        optimizers: ``(optimizer, scheduler)`` to use instead of the defaults.
        optimizer_cls_and_kwargs: Optimizer class and its keyword arguments.
        preprocess_logits_for_metrics: Not used; accepted for signature compatibility.

    Class attributes:
        model_class: The family's model class; it reloads checkpoints.
        arguments_class: The family's training-arguments class (the default ``args``).
    """

    model_class: ClassVar[type[BaseModel]]
    arguments_class: ClassVar[type[BaseTrainingArguments]]

    def __init__(
        self,
        model: BaseModel | None = None,
        args: BaseTrainingArguments | None = None,
        train_dataset: Dataset | DatasetDict | dict[str, Dataset] | None = None,
        eval_dataset: Dataset | DatasetDict | dict[str, Dataset] | None = None,
        loss: LossArgument = None,
        evaluator: Any | None = None,
        data_collator: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
        processing_class: Any | None = None,
        model_init: ModelInit | None = None,
        compute_metrics: Callable[..., dict] | None = None,
        callbacks: list[TrainerCallback] | None = None,
        optimizers: tuple[torch.optim.Optimizer | None, Any] = (None, None),
        optimizer_cls_and_kwargs: tuple[type[torch.optim.Optimizer], dict[str, Any]] | None = None,
        preprocess_logits_for_metrics: Callable[..., Any] | None = None,
    ) -> None:
        args = self._check_args(args)
        fsdp.check_fsdp_arguments(args)
        model = initial_model(model, model_init, optimizers, type(self).__name__)
        if compute_metrics is not None or preprocess_logits_for_metrics is not None:
            logger.warning("compute_metrics/preprocess_logits_for_metrics are not used; pass evaluator= instead.")
        train = _as_dict_or_none(train_dataset, "train")
        evaluation = _as_dict_or_none(eval_dataset, "eval")
        self.check_datasets(train, evaluation, args)
        self.loss = self._prepare_losses(loss, model, train or evaluation)
        self._loss_argument = loss
        self.check_losses(args)
        self._validate(train, evaluation)
        self._train_names = list(train or {})
        if args.eval_strategy != "no" and evaluation is None and evaluator is None:
            raise ValueError(
                f"eval_strategy={args.eval_strategy.value!r} needs eval_dataset= or evaluator=; got neither. "
                "Pass one, or set eval_strategy='no'."
            )
        multi = _needs_dataset_names(train, evaluation, self.loss, args)
        datasets = [*(train or {}).values(), *(evaluation or {}).values()]
        changes = apply_gpu_defaults(args, model, datasets=datasets, data_collator=data_collator)
        if changes:
            logger.info("embedforge GPU defaults: %s.", "; ".join(changes))
        if notice := compile_notice(args):
            logger.info(notice)
        if data_collator is None:
            data_collator = self.default_collator(model, args)
        super().__init__(
            model=model,
            args=args,
            data_collator=data_collator,
            train_dataset=dataloaders.prepare_datasets(train, multi),
            # transformers refuses eval steps without an eval dataset; an evaluator alone is enough here
            eval_dataset=dataloaders.prepare_datasets(evaluation, multi) if evaluation or not evaluator else "none",
            processing_class=processing_class,
            callbacks=callbacks,
            optimizers=optimizers,
            optimizer_cls_and_kwargs=optimizer_cls_and_kwargs,
        )
        self.model_init = model_init  # set after Trainer.__init__, which would build a second model from it
        fsdp.check_trainer_fsdp(self.args, self.accelerator)
        self.model_accepts_loss_kwargs = False  # losses average over their batch themselves
        for module in _loss_modules(self.loss):
            module.to(self.model.device)
        if evaluation is None:
            self.eval_dataset = None
        self.evaluator = _as_evaluator(evaluator)
        self._attach_model_card(train, evaluation)
        self.add_callback(distributed.ClearLossGradients())

    def call_model_init(self, trial: Any = None) -> BaseModel:
        """A fresh model from ``model_init`` (at each ``train()``), with the losses moved onto it."""
        previous = self.model
        model = fresh_model(self.model_init, trial)
        self.loss = losses_for_new_model(self._loss_argument, self.loss, previous, model)
        for module in _loss_modules(self.loss):
            module.to(model.device)
        return model

    # ---------------------------------------------------------- family hooks
    @abstractmethod
    def default_loss(self, model: BaseModel) -> nn.Module:
        """The loss used when none is given."""

    @abstractmethod
    def default_collator(self, model: BaseModel, args: BaseTrainingArguments) -> BaseDataCollator:
        """The collator used when none is given."""

    @abstractmethod
    def call_loss(self, loss_fn: nn.Module, inputs: dict[str, Any]) -> torch.Tensor | dict[str, torch.Tensor]:
        """Apply ``loss_fn`` to one collated batch (the family's calling convention)."""

    def check_datasets(
        self, train: dict[str, Dataset] | None, evaluation: dict[str, Dataset] | None, args: BaseTrainingArguments
    ) -> None:
        """Family-specific dataset rules, checked before anything else (none by default)."""
        del train, evaluation, args

    def check_losses(self, args: BaseTrainingArguments) -> None:
        """Family-specific checks of ``self.loss`` against the arguments, before training (none by default)."""
        del args

    def _check_args(self, args: BaseTrainingArguments | None) -> BaseTrainingArguments:
        if args is None:
            return self.arguments_class(output_dir="tmp_trainer")
        if not isinstance(args, BaseTrainingArguments):
            name = self.arguments_class.__name__
            raise TypeError(
                f"args must be {name}, got {type(args).__name__}. Build it with embedforge.{name}(...) (it takes "
                "every TrainingArguments field)."
            )
        return args

    def _prepare_losses(self, loss: LossArgument, model: BaseModel, datasets: dict | None) -> Any:
        if loss is None:
            loss = self.default_loss(model)
            logger.warning("No loss given; using %s, the default of %s.", type(loss).__name__, type(self).__name__)
            return loss
        if isinstance(loss, dict):
            if datasets is not None and set(loss) != set(datasets):
                raise ValueError(
                    f"The loss dict has keys {sorted(loss)} but the datasets are named {sorted(datasets)}; "
                    "give every dataset exactly one loss, under the same name."
                )
            return {name: self._prepare_losses(value, model, None) for name, value in loss.items()}
        if isinstance(loss, nn.Module):
            return loss
        return loss(model)

    # ------------------------------------------------------------ validation
    def _validate(self, train: dict[str, Dataset] | None, evaluation: dict[str, Dataset] | None) -> None:
        for split, datasets in (("train", train), ("eval", evaluation)):
            if datasets is not None:
                validate_datasets(datasets, {name: self.loss_for(name) for name in datasets}, split=split)

    def loss_for(self, dataset_name: str | None) -> nn.Module:
        """The loss applied to batches of ``dataset_name``."""
        if not isinstance(self.loss, dict):
            return self.loss
        if dataset_name not in self.loss:
            raise ValueError(
                f"No loss for dataset {dataset_name!r}; the loss dict has {sorted(self.loss)}. Give every dataset "
                "a loss with the same name."
            )
        return self.loss[dataset_name]

    def _attach_model_card(self, train: dict[str, Dataset] | None, evaluation: dict[str, Dataset] | None) -> None:
        from embedforge.model_card import ModelCardCallback

        card = self.model.model_card_data
        if train is not None:  # an evaluation-only trainer must not replace what training recorded
            losses = self.loss if isinstance(self.loss, dict) else {"": self.loss}
            card.set_training_data(train, evaluation, losses, tokenize=self.model.tokenize)
        self.add_callback(ModelCardCallback(card))

    # ------------------------------------------------------------------ loss
    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, Any]]:
        """Apply the batch's loss (:meth:`call_loss`); the parts of a dict-valued loss are logged and summed."""
        loss_fn = self.loss_for(inputs.get("dataset_name"))
        with distributed.route_forward(self.model, model):  # a DDP wrapper: the losses' forward passes go through it
            value = self.call_loss(loss_fn, inputs)
        if isinstance(value, dict):
            self.log({key: float(part.detach()) for key, part in value.items()})
            value = torch.stack(list(value.values())).sum()
        if model.training:  # a NaN/inf loss stops training or skips the batch (args.nonfinite_loss)
            value = check_loss(self, value, inputs, inputs.get("dataset_name") or "/".join(self._train_names))
        return (value, {}) if return_outputs else value

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        """One forward/backward pass; at an optimizer step the losses' own gradients are averaged across ranks."""
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.accelerator.sync_gradients:
            distributed.average_loss_gradients(self.loss, self.model)
        return loss

    # ----------------------------------------------------------- dataloaders
    def get_train_dataloader(self) -> DataLoader:
        """The training dataloader with the configured (multi-dataset) batch sampler."""
        if self.train_dataset is None:
            raise ValueError(f"Training needs a train_dataset; pass train_dataset= to {type(self).__name__}.")
        self.accelerator.even_batches = False
        loader = dataloaders.build(self.train_dataset, self.args, self.args.train_batch_size, self.data_collator)
        return self.accelerator.prepare(loader)

    def get_eval_dataloader(self, eval_dataset: str | Dataset | None = None) -> DataLoader:
        """The evaluation dataloader (an empty one when only an evaluator is given)."""
        if isinstance(eval_dataset, str):
            eval_dataset = self.eval_dataset[eval_dataset]
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            return DataLoader([])
        self.accelerator.even_batches = True
        loader = dataloaders.build(dataset, self.args, self.args.eval_batch_size, self.data_collator)
        return self.accelerator.prepare(loader)

    # ------------------------------------------------------------ evaluation
    def evaluation_loop(
        self,
        dataloader: DataLoader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        """The evaluation loss loop, plus the evaluator's metrics prefixed with ``metric_key_prefix``."""
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.evaluator is None:
            return output
        if isinstance(self.eval_dataset, dict) and metric_key_prefix.startswith("eval_"):
            if metric_key_prefix[5:] != next(iter(self.eval_dataset)):
                return output  # run the evaluator once per evaluation, with the first dataset
            metric_key_prefix = "eval"
        sharded = self.is_fsdp_enabled or self.is_deepspeed_enabled  # then every rank must run the evaluator
        metrics = distributed.evaluate_once(self.evaluator, self.model, self.args.output_dir, self.state, not sharded)
        for key, value in metrics.items():
            name = key if key.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{key}"
            output.metrics[name] = value
        return output

    # ------------------------------------------------------------- optimizer
    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """Build the optimizer over every loss's parameters (model + loss heads) and ``learning_rate_mapping``."""
        if self.optimizer is None:
            losses = nn.ModuleList(_loss_modules(self.loss))
            groups = parameter_groups(
                losses.named_parameters(),
                set(self.get_decay_parameter_names(losses)),
                self.args.weight_decay,
                self.args.learning_rate_mapping,
            )
            if self.optimizer_cls_and_kwargs is not None:
                optimizer_cls, optimizer_kwargs = self.optimizer_cls_and_kwargs
                optimizer_kwargs = dict(optimizer_kwargs)
            else:
                optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, losses)
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    # ------------------------------------------------------ saving, loading
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """Save checkpoints in the sentence-transformers format (every save path of Trainer ends here)."""
        if not self.args.should_save:  # transformers calls this on every rank; one writes
            return
        folder = Path(output_dir or self.args.output_dir)
        with fsdp.full_weights(self.model, state_dict):  # under FSDP: the gathered full weights
            self.model.save(folder)
        torch.save(self.args, folder / TRAINING_ARGS_NAME)

    _checkpoint_staging: str | None = None

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        """Write the checkpoint into a staging folder, renamed into place once complete (see ``checkpoints``)."""
        with checkpoints.atomic_save(self, trial) as staging:
            self._checkpoint_staging = str(staging)
            try:
                super()._save_checkpoint(model, trial)
            finally:
                self._checkpoint_staging = None

    def _get_output_dir(self, trial: Any) -> str:
        """The run folder; while a checkpoint is written, its staging folder."""
        return self._checkpoint_staging or super()._get_output_dir(trial)

    def train(
        self, resume_from_checkpoint: str | bool | None = None, trial: Any = None, ignore_keys_for_eval: Any = None
    ) -> TrainOutput:
        """As ``Trainer.train``; a partial or corrupt checkpoint is found before loading (see ``checkpoints``)."""
        checkpoint = checkpoints.resume_checkpoint(resume_from_checkpoint, self.args)
        return super().train(checkpoint, trial, ignore_keys_for_eval)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        """Load a checkpoint saved by :meth:`_save` into the model being trained.

        With PEFT adapters, the checkpoint's adapter loads into the model's active adapter (whatever its name).
        """
        from embedforge.models.adapter_io import fit_checkpoint_state

        target = model or self.model
        loaded = self.model_class(resume_from_checkpoint, device="cpu")
        target.load_state_dict(fit_checkpoint_state(target, loaded.state_dict()))

    def _load_best_model(self) -> None:
        """Restore the whole model from the best checkpoint."""
        logger.info("Loading best model from %s (score: %s).", self.state.best_model_checkpoint, self.state.best_metric)
        self._load_from_checkpoint(self.state.best_model_checkpoint)


def _as_dict_or_none(data: Any, default_name: str) -> dict[str, Dataset] | None:
    return None if data is None else as_dataset_dict(data, default_name)


def _loss_modules(loss: Any) -> list[nn.Module]:
    return list(loss.values()) if isinstance(loss, dict) else [loss]


def _needs_dataset_names(train: dict | None, evaluation: dict | None, loss: Any, args: BaseTrainingArguments) -> bool:
    names = set(train or {}) | set(evaluation or {})
    per_dataset_setting = any(
        isinstance(setting, dict) and names & set(setting) for setting in (args.prompts, args.router_mapping)
    )
    return isinstance(loss, dict) or per_dataset_setting


def _as_evaluator(evaluator: Any) -> Any:
    if isinstance(evaluator, (list, tuple)):
        from embedforge.evaluation import SequentialEvaluator

        return SequentialEvaluator(list(evaluator))
    return evaluator
