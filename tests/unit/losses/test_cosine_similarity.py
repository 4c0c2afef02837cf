"""CosineSimilarityLoss: same value and gradients as sentence-transformers 6.2."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from embedforge.losses import CosineSimilarityLoss, InputSpec, LabelKind, Loss

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")


@pytest.mark.parametrize(
    ("kwargs", "labels"),
    [
        pytest.param({}, torch.tensor([0.9, 0.2, 0.5, 0.2, 1.0]), id="default"),
        pytest.param({}, torch.tensor([1, 0, 1, 0, 1]), id="int-labels"),
        pytest.param({}, torch.tensor([[0.9], [0.2], [0.5], [0.2], [1.0]]), id="column-labels"),
        pytest.param(
            {"loss_fct": nn.L1Loss(), "cos_score_transformation": nn.Tanh()},
            torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]),
            id="l1-tanh",
        ),
    ],
)
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], kwargs: dict, labels: torch.Tensor
) -> None:
    ours, theirs = model_pair
    our_loss, their_loss = CosineSimilarityLoss(ours, **kwargs), st_losses.CosineSimilarityLoss(theirs, **kwargs)
    check_parity(our_loss, their_loss, columns[:2], labels)


def test_declarations_config_and_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = CosineSimilarityLoss(ours, cos_score_transformation=nn.Tanh())
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, 2, LabelKind.FLOAT, loss.input_spec.description)
    expected = st_losses.CosineSimilarityLoss(theirs, cos_score_transformation=nn.Tanh()).get_config_dict()
    assert loss.get_config_dict() == expected
    with pytest.raises(ValueError, match="expects 2 labels"):
        loss.compute_loss_from_embeddings([torch.randn(2, 4), torch.randn(2, 4)], torch.ones(3))
    with pytest.raises(ValueError, match="score"):
        loss.compute_loss_from_embeddings([torch.randn(2, 4), torch.randn(2, 4)], None)
