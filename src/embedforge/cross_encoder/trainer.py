"""CrossEncoderTrainer: the cross-encoder family's trainer."""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from embedforge.cross_encoder.data_collator import CrossEncoderDataCollator, input_columns
from embedforge.cross_encoder.model import CrossEncoder
from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments
from embedforge.training.arguments import BaseTrainingArguments
from embedforge.training.base_trainer import BaseTrainer

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)


class CrossEncoderTrainer(BaseTrainer):
    """Train a :class:`~embedforge.CrossEncoder` with one or more losses on one or more datasets.

    The same trainer as :class:`~embedforge.SentenceTransformerTrainer` (arguments, samplers, multi-dataset
    training, evaluators, checkpoints, resume, model card, every data problem reported before step 1), with the
    cross-encoder's conventions: the collator passes texts through and the losses build and tokenize pairs; the
    default loss is ``BinaryCrossEntropyLoss`` for one label and ``CrossEntropyLoss`` otherwise. Data is (query,
    document) pairs with a label, (query, [documents]) with a list of labels, or (query, positive, negatives…).

    Example:
        >>> from datasets import Dataset  # doctest: +SKIP
        >>> from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer  # doctest: +SKIP
        >>> model = CrossEncoder("path/to/MiniLM")  # doctest: +SKIP
        >>> data = Dataset.from_dict({"query": ["What are pandas?"] * 2, "response": ["A bear.", "A fish."],
        ...                           "label": [1, 0]})  # doctest: +SKIP
        >>> CrossEncoderTrainer(model=model, train_dataset=data).train()  # doctest: +SKIP
    """

    model_class: ClassVar[type[CrossEncoder]] = CrossEncoder
    arguments_class: ClassVar[type[BaseTrainingArguments]] = CrossEncoderTrainingArguments

    def default_loss(self, model: Any) -> nn.Module:
        """``BinaryCrossEntropyLoss`` for one label, ``CrossEntropyLoss`` for several."""
        from embedforge.cross_encoder import losses

        return losses.BinaryCrossEntropyLoss(model) if model.num_labels == 1 else losses.CrossEntropyLoss(model)

    def default_collator(self, model: Any, args: BaseTrainingArguments) -> CrossEncoderDataCollator:
        """Texts through, labels stacked (or one tensor per row for listwise data), one prompt per dataset."""
        return CrossEncoderDataCollator(
            preprocess_fn=model.preprocess, prompts=args.prompts, router_mapping=args.router_mapping
        )

    def call_loss(self, loss_fn: nn.Module, inputs: dict[str, Any]) -> torch.Tensor | dict[str, torch.Tensor]:
        """``loss(columns, labels, prompt=..., task=...)``, or ``loss(columns, labels)`` for a loss without them."""
        columns, labels = input_columns(inputs), inputs.get("label")
        if _takes_prompt(loss_fn):
            return loss_fn(columns, labels, **{key: inputs[key] for key in ("prompt", "task") if key in inputs})
        return loss_fn(columns, labels)

    def check_losses(self, args: BaseTrainingArguments) -> None:
        """A prompt or route configured for a loss whose forward cannot take it is an error, not a silent drop."""
        if not args.prompts and not args.router_mapping:
            return
        losses = self.loss.values() if isinstance(self.loss, dict) else [self.loss]
        for loss in losses:
            if not _takes_prompt(loss):
                raise ValueError(
                    f"{type(loss).__name__}.forward takes no prompt/task arguments, but the training arguments set "
                    "prompts or router_mapping. Add `prompt=None, task=None` parameters to its forward (and pass "
                    "them to model.preprocess), or unset those arguments."
                )

    def check_datasets(
        self, train: dict[str, Dataset] | None, evaluation: dict[str, Dataset] | None, args: BaseTrainingArguments
    ) -> None:
        """Refuse an ``IterableDataset`` (as sentence-transformers does) and prompt/route maps not keyed by dataset.

        The columns are combined into pairs, so a per-column map would be silently unused.
        """
        from datasets import IterableDataset

        names = set(train or {}) | set(evaluation or {})
        for setting_name, setting in (("prompts", args.prompts), ("router_mapping", args.router_mapping)):
            unknown = sorted(set(setting) - names) if isinstance(setting, dict) else []
            if unknown:
                raise ValueError(
                    f"CrossEncoder training takes {setting_name} as one value or a {{dataset name: value}} map; the "
                    f"keys {unknown} are not dataset names ({sorted(names)}). The columns are combined into pairs, so "
                    f"a per-column map does not apply: give one value, e.g. {setting_name}='query: '."
                )
        for split, datasets in (("train", train), ("eval", evaluation)):
            for name, dataset in (datasets or {}).items():
                if isinstance(dataset, IterableDataset):
                    raise ValueError(
                        f"CrossEncoderTrainer does not take an IterableDataset ({split} dataset {name!r}). Convert "
                        "it first, e.g. datasets.Dataset.from_generator(lambda: (yield from iterable_dataset))."
                    )


def _takes_prompt(loss_fn: nn.Module) -> bool:
    """Whether the loss's forward accepts ``prompt`` and ``task`` (the cross-encoder losses' convention)."""
    parameters = inspect.signature(loss_fn.forward).parameters
    return all(name in parameters for name in ("prompt", "task"))
