"""SentenceTransformerTrainer: the bi-encoder family's trainer (CoSENT by default, tokenizing collator)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from embedforge.engine.batch_shapes import BatchShapes
from embedforge.model.sentence_transformer import SentenceTransformer
from embedforge.training.arguments import BaseTrainingArguments, SentenceTransformerTrainingArguments
from embedforge.training.base_trainer import BaseTrainer

if TYPE_CHECKING:
    from embedforge.data.collator import SentenceTransformerDataCollator

logger = logging.getLogger(__name__)


class SentenceTransformerTrainer(BaseTrainer):
    """Train a SentenceTransformer with one or more losses on one or more datasets.

    Everything of :class:`transformers.Trainer` applies (callbacks, logging integrations, mixed precision,
    gradient accumulation, torchrun DDP, resuming, ``load_best_model_at_end``). Before training starts, every
    dataset is checked against its loss and all problems are reported at once. Checkpoints are saved in the
    sentence-transformers format. The arguments are those of :class:`~embedforge.training.base_trainer.BaseTrainer`;
    the default loss is ``CoSENTLoss`` (as sentence-transformers), which needs (text, text, score) data.

    Example:
        >>> from datasets import Dataset  # doctest: +SKIP
        >>> from embedforge import SentenceTransformer, SentenceTransformerTrainer, losses  # doctest: +SKIP
        >>> model = SentenceTransformer("path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> data = Dataset.from_dict({"anchor": ["A man plays."], "positive": ["Someone makes music."]})
        ... # doctest: +SKIP
        >>> SentenceTransformerTrainer(model=model, train_dataset=data,
        ...                            loss=losses.MultipleNegativesRankingLoss(model)).train()  # doctest: +SKIP
    """

    model_class: ClassVar[type[SentenceTransformer]] = SentenceTransformer
    arguments_class: ClassVar[type[BaseTrainingArguments]] = SentenceTransformerTrainingArguments

    def default_loss(self, model: Any) -> nn.Module:
        """``CoSENTLoss``, as sentence-transformers (it needs scored pairs)."""
        from embedforge.losses import CoSENTLoss

        return CoSENTLoss(model)

    def default_collator(self, model: Any, args: BaseTrainingArguments) -> SentenceTransformerDataCollator:
        """Tokenize each text column once per batch, with its prompt and route; each text once per dataset.

        The model's ``tokenize`` runs behind a :class:`~embedforge.engine.token_cache.TokenCache`: the features are
        the same, and a text seen in an earlier batch or epoch is padded from its cached token ids. Each column's
        packed layout is computed here too (``varlen_layout``), on the host, for the unpadded forward; batch widths
        are bucketed and the layouts left out where :class:`~embedforge.engine.batch_shapes.BatchShapes` says so
        (``pad_to_multiple_of``, CUDA graphs: then each column carries its texts' lengths instead, ``row_lengths``).
        """
        from embedforge.data.collator import SentenceTransformerDataCollator
        from embedforge.engine.token_cache import TokenCache

        shapes = self.batch_shapes(args)
        if description := shapes.describe():
            logger.info("embedforge batches: %s.", description)
        return SentenceTransformerDataCollator(
            tokenize_fn=TokenCache(model, pad_to_multiple_of=shapes.pad_to_multiple_of),
            prompts=args.prompts,
            router_mapping=args.router_mapping,
            varlen_layout=shapes.varlen_layout,
            row_lengths=shapes.cuda_graphs,
        )

    @staticmethod
    def batch_shapes(args: BaseTrainingArguments) -> BatchShapes:
        """How the default collator shapes batches for ``args``.

        See :class:`~embedforge.engine.batch_shapes.BatchShapes`.
        """
        return BatchShapes.plan(
            torch_compile=args.torch_compile,
            compile_mode=args.torch_compile_mode,
            device_type=args.device.type,
            pad_to_multiple_of=args.pad_to_multiple_of
            if isinstance(args, SentenceTransformerTrainingArguments)
            else None,
        )

    def call_loss(self, loss_fn: nn.Module, inputs: dict[str, Any]) -> torch.Tensor | dict[str, torch.Tensor]:
        """``loss(sentence_features, labels)``."""
        return loss_fn(inputs["sentence_features"], inputs.get("label"))
