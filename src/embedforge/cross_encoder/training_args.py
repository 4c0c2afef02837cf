"""CrossEncoderTrainingArguments: the training arguments of a cross-encoder."""

from __future__ import annotations

from dataclasses import dataclass

from embedforge.training.arguments import BaseTrainingArguments


@dataclass(kw_only=True)
class CrossEncoderTrainingArguments(BaseTrainingArguments):
    """Training arguments of a :class:`~embedforge.CrossEncoder` (fields: see ``BaseTrainingArguments``).

    The columns of a cross-encoder's data are combined into pairs, so ``prompts`` (prepended to the query) and
    ``router_mapping`` take one value or a ``{dataset name: value}`` map, not a per-column one.

    Example:
        >>> args = CrossEncoderTrainingArguments(output_dir="out", num_train_epochs=1)  # doctest: +SKIP
    """
