"""CoSENTLoss: same value and gradients as sentence-transformers 6.2, including ties and int/bool labels."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from embedforge.losses import CoSENTLoss, InputSpec, LabelKind, Loss
from embedforge.util import pairwise_dot_score

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")

LABELS = {
    "float": torch.tensor([0.9, 0.2, 0.5, 0.2, 1.0]),
    "float-column": torch.tensor([[0.9], [0.2], [0.5], [0.2], [1.0]]),
    "float64": torch.tensor([0.1, 0.7, 0.7, 0.3, 0.0], dtype=torch.float64),
    "int": torch.tensor([2, 0, 1, 0, 2]),
    "bool": torch.tensor([True, False, True, False, True]),
    "all-tied": torch.tensor([0.5, 0.5, 0.5, 0.5, 0.5]),
}


@pytest.mark.parametrize("label_kind", list(LABELS))
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], label_kind: str
) -> None:
    ours, theirs = model_pair
    value = check_parity(CoSENTLoss(ours), st_losses.CoSENTLoss(theirs), columns[:2], LABELS[label_kind])
    assert value >= 0


def test_matches_sentence_transformers_with_scale_and_dot(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float]
) -> None:
    ours, theirs = model_pair
    check_parity(
        CoSENTLoss(ours, scale=0.3, similarity_fct=pairwise_dot_score),
        st_losses.CoSENTLoss(theirs, scale=0.3, similarity_fct=st_util.pairwise_dot_score),
        columns[:2],
        LABELS["float"],
    )


def test_label_errors(model_pair: tuple) -> None:
    ours, _ = model_pair
    embeddings = [torch.randn(3, 4), torch.randn(3, 4)]
    with pytest.raises(ValueError, match="expects 3 labels"):
        CoSENTLoss(ours).compute_loss_from_embeddings(embeddings, torch.ones(4))
    with pytest.raises(ValueError, match="score"):
        CoSENTLoss(ours).compute_loss_from_embeddings(embeddings, None)


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = CoSENTLoss(ours, scale=10.0)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, 2, LabelKind.FLOAT, loss.input_spec.description)
    assert loss.get_config_dict() == st_losses.CoSENTLoss(theirs, scale=10.0).get_config_dict()
    assert loss.citation == st_losses.CoSENTLoss(theirs).citation
