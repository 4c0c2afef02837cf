"""What losses and evaluators need of a model, as protocols (typing only; no ``hasattr`` checks).

A loss or evaluator names the protocol of the family it serves instead of a concrete model class, so that any
model with those members (a subclass, a wrapper) fits, and so that losses and evaluators depend on the model's
surface, not on its implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from embedforge.models.base import Features


class ScoringModel(Protocol):
    """A model that scores text pairs (the cross-encoder family): what its losses and evaluators use."""

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are."""
        ...

    @property
    def num_labels(self) -> int:
        """Outputs per pair (1 for a relevance score)."""
        ...

    prompts: dict[str, str]
    model_card_data: Any

    def preprocess(self, texts: Sequence[Any], **kwargs: Any) -> Features:
        """Tokenize a batch of ``(query, document)`` pairs (``prompt=`` and ``task=`` honoured)."""
        ...

    def __call__(self, features: Features, **kwargs: Any) -> Features:
        """Run the model; the output holds ``scores`` ``(batch, num_labels)``."""
        ...

    def predict(self, inputs: Any, **kwargs: Any) -> np.ndarray | Tensor | list[Tensor]:
        """Score pairs (see :meth:`embedforge.CrossEncoder.predict`)."""
        ...
