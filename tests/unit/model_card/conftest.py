"""Fixtures for the model card tests: two real embedforge losses (one wrapping the other) and a small dataset."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from embedforge.losses.base import InputSpec, LabelKind, Loss


class ScoredPairLoss(Loss):
    """A pair loss with a label score, a config and a citation (stands in for CoSENTLoss)."""

    input_spec = InputSpec(2, 2, LabelKind.FLOAT, "(sentence_A, sentence_B) with a float score")
    config_keys = ("scale", "similarity_fct")
    citation = "@misc{scored-pair-2024,\n    title = {Scored pairs},\n}"

    def __init__(self, model: Any, scale: float = 20.0) -> None:
        super().__init__(model)
        self.scale = scale
        self.similarity_fct = torch.cosine_similarity

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        return torch.zeros(())


class WrappingLoss(Loss):
    """A loss modifier holding another loss (stands in for MatryoshkaLoss)."""

    input_spec = InputSpec(1, None, LabelKind.ANY, "whatever the wrapped loss accepts")
    config_keys = ("dims",)
    citation = "@misc{wrapping-2024,\n    title = {Wrapping},\n}"

    def __init__(self, model: Any, loss: Loss, dims: tuple[int, ...] = (32, 16)) -> None:
        super().__init__(model)
        self.loss = loss
        self.dims = list(dims)

    def forward(self, sentence_features: list[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        return self.loss(sentence_features, labels)


@pytest.fixture
def pair_loss() -> ScoredPairLoss:
    return ScoredPairLoss(nn.Identity())


@pytest.fixture
def wrapped_loss(pair_loss: ScoredPairLoss) -> WrappingLoss:
    return WrappingLoss(nn.Identity(), pair_loss)


TEXTS_A = [
    "A man is playing a guitar.",
    "A woman is eating food\noutside | near the house.",
    "The quick brown fox jumps over the lazy dog.",
    "Two dogs.",
    "x" * 1500,
]
TEXTS_B = ["Someone plays music.", "A woman eats.", "A fox jumps.", "Two cats sit on the grass.", "short"]
SCORES = [0.9, 0.55, 0.123, 0.0, 1.0]
LABELS = [1, 0, 2, 0, 4]
VECTORS = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [1.0], [0.5, 0.5], [0.0] * 3, [2.0] * 4]


@pytest.fixture
def pair_columns() -> dict[str, list[Any]]:
    """The columns of ``pair_dataset``: two text columns, a float, an int and a list column."""
    return {"sentence_A": TEXTS_A, "sentence_B": TEXTS_B, "score": SCORES, "label": LABELS, "vector": VECTORS}


@pytest.fixture
def pair_dataset(pair_columns: dict[str, list[Any]]) -> Any:
    from datasets import Dataset

    return Dataset.from_dict(pair_columns)
