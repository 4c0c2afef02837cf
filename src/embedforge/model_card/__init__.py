"""Model cards: the data a card holds, the callback that fills it during training, and the README renderer.

``ModelCardCallback`` is imported lazily: it subclasses transformers' ``TrainerCallback``, whose import is slow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from embedforge.model_card.data import SentenceTransformerModelCardData
from embedforge.model_card.render import render_model_card

if TYPE_CHECKING:
    from embedforge.model_card.callback import ModelCardCallback

__all__ = ["ModelCardCallback", "SentenceTransformerModelCardData", "render_model_card"]


def __getattr__(name: str) -> Any:
    if name == "ModelCardCallback":
        value = importlib.import_module("embedforge.model_card.callback").ModelCardCallback
        globals()[name] = value
        return value
    raise AttributeError(f"module 'embedforge.model_card' has no attribute {name!r}")
