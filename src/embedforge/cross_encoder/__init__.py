"""The Cross Encoder family: a model that scores text pairs, its trainer, losses and evaluators.

Public names are imported lazily, as in the top-level package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "CrossEncoder": "embedforge.cross_encoder.model",
    "CrossEncoderTrainer": "embedforge.cross_encoder.trainer",
    "CrossEncoderTrainingArguments": "embedforge.cross_encoder.training_args",
    "CrossEncoderModelCardData": "embedforge.cross_encoder.model_card",
    "CrossEncoderDataCollator": "embedforge.cross_encoder.data_collator",
    "register_activation": "embedforge.cross_encoder.activation",
    "losses": "embedforge.cross_encoder.losses",
    "evaluation": "embedforge.cross_encoder.evaluation",
}

__all__ = [
    "CrossEncoder",
    "CrossEncoderDataCollator",
    "CrossEncoderModelCardData",
    "CrossEncoderTrainer",
    "CrossEncoderTrainingArguments",
]

if TYPE_CHECKING:
    from embedforge.cross_encoder.data_collator import CrossEncoderDataCollator
    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.cross_encoder.model_card import CrossEncoderModelCardData
    from embedforge.cross_encoder.trainer import CrossEncoderTrainer
    from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'embedforge.cross_encoder' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
