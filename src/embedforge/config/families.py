"""The model families a recipe can train (``model.type``), written down as data.

Each family names its model, trainer and training-arguments classes, the modules whose names its losses and
evaluators are looked up in, and the default ``inputs`` of its evaluators (constructor argument → data column(s)).
The class paths are embedforge's own constants, imported only from this table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

DEFAULT_FAMILY = "sentence-transformer"


@dataclass(frozen=True)
class RecipeFamily:
    """A model family as recipes use it.

    Attributes:
        type: The ``model.type`` value.
        model: ``module:Class`` of the model.
        trainer: ``module:Class`` of its trainer.
        arguments: ``module:Class`` of its training arguments.
        losses_module: Module whose ``__all__`` lists the family's losses.
        evaluation_module: Module whose ``__all__`` lists the family's evaluators.
        default_inputs: Per evaluator, ``{constructor argument: column or [columns]}`` used when a recipe's
            evaluator gives no ``inputs``.
    """

    type: str
    model: str
    trainer: str
    arguments: str
    losses_module: str
    evaluation_module: str
    default_inputs: dict[str, dict[str, str | list[str]]] = field(default_factory=dict)

    def load(self, role: str) -> Any:
        """The class of ``role`` (``"model"``, ``"trainer"`` or ``"arguments"``)."""
        module, _, name = getattr(self, role).partition(":")
        return getattr(importlib.import_module(module), name)

    def module(self, role: str) -> Any:
        """The module of ``role`` (``"losses_module"`` or ``"evaluation_module"``)."""
        return importlib.import_module(getattr(self, role))


FAMILIES: dict[str, RecipeFamily] = {
    family.type: family
    for family in (
        RecipeFamily(
            type="sentence-transformer",
            model="embedforge.model.sentence_transformer:SentenceTransformer",
            trainer="embedforge.training.trainer:SentenceTransformerTrainer",
            arguments="embedforge.training.arguments:SentenceTransformerTrainingArguments",
            losses_module="embedforge.losses",
            evaluation_module="embedforge.evaluation",
            default_inputs={
                "EmbeddingSimilarityEvaluator": {
                    "sentences1": "sentence1",
                    "sentences2": "sentence2",
                    "scores": "score",
                },
                "TripletEvaluator": {"anchors": "anchor", "positives": "positive", "negatives": "negative"},
                "BinaryClassificationEvaluator": {
                    "sentences1": "sentence1",
                    "sentences2": "sentence2",
                    "labels": "label",
                },
            },
        ),
        RecipeFamily(
            type="cross-encoder",
            model="embedforge.cross_encoder.model:CrossEncoder",
            trainer="embedforge.cross_encoder.trainer:CrossEncoderTrainer",
            arguments="embedforge.cross_encoder.training_args:CrossEncoderTrainingArguments",
            losses_module="embedforge.cross_encoder.losses",
            evaluation_module="embedforge.cross_encoder.evaluation",
            default_inputs={
                "CrossEncoderCorrelationEvaluator": {"sentence_pairs": ["sentence1", "sentence2"], "scores": "score"},
                "CrossEncoderClassificationEvaluator": {
                    "sentence_pairs": ["sentence1", "sentence2"],
                    "labels": "label",
                },
                "CrossEncoderRerankingEvaluator": {"samples": ["query", "positive", "negative"]},
            },
        ),
    )
}


def recipe_family(type_name: str | None) -> RecipeFamily:
    """The family of ``model.type`` (default: sentence-transformer).

    Raises:
        ValueError: For an unknown type, naming the known ones.
    """
    family = FAMILIES.get(type_name or DEFAULT_FAMILY)
    if family is None:
        raise ValueError(f"model.type must be one of {sorted(FAMILIES)}, got {type_name!r}")
    return family
