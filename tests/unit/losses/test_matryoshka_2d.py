"""Matryoshka2dLoss: equal to sentence-transformers 6.2 (layers × dimensions), trains, mirrors ST's config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cached_helpers import COLUMNS, caption_pairs, check_st_parity, load_model, single_thread, train_two_steps

from embedforge.losses import CoSENTLoss, MultipleNegativesRankingLoss
from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from embedforge.losses.matryoshka import MatryoshkaLoss
from embedforge.losses.matryoshka_2d import Matryoshka2dLoss

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="defaults-sampled"),
        pytest.param({"n_layers_per_step": -1, "n_dims_per_step": -1, "matryoshka_weights": [1, 2, 3]}, id="all"),
        pytest.param({"n_dims_per_step": 2, "kl_temperature": 0.0, "layer_weighting": "linear"}, id="no-kl"),
    ],
)
def test_matches_sentence_transformers(model_pair: tuple, kwargs: dict) -> None:
    ours, theirs = model_pair
    check_st_parity(
        (Matryoshka2dLoss(ours, MultipleNegativesRankingLoss(ours), [32, 16, 8], **kwargs), ours),
        (
            st_losses.Matryoshka2dLoss(theirs, st_losses.MultipleNegativesRankingLoss(theirs), [32, 16, 8], **kwargs),
            theirs,
        ),
        COLUMNS,
    )


def test_matches_sentence_transformers_with_labels(model_pair: tuple) -> None:
    ours, theirs = model_pair
    scores = torch.tensor([0.9, 0.2, 0.5, 0.2, 1.0, 0.4, 0.7])
    check_st_parity(
        (Matryoshka2dLoss(ours, CoSENTLoss(ours), [32, 4], n_dims_per_step=-1), ours),
        (st_losses.Matryoshka2dLoss(theirs, st_losses.CoSENTLoss(theirs), [32, 4], n_dims_per_step=-1), theirs),
        COLUMNS[:2],
        scores,
    )


def test_is_adaptive_layer_over_matryoshka(model_pair: tuple) -> None:
    ours, _ = model_pair
    loss = Matryoshka2dLoss(ours, MultipleNegativesRankingLoss(ours), [32, 16], [1, 2], n_dims_per_step=-1)
    assert isinstance(loss.loss, MatryoshkaLoss)
    assert (loss.matryoshka_dims, loss.matryoshka_weights, loss.n_dims_per_step) == ((32, 16), (1, 2), -1)
    cached = Matryoshka2dLoss(ours, CachedMultipleNegativesRankingLoss(ours), [32, 16])  # composes (see CachedMNRL)
    assert isinstance(cached.loss.loss, CachedMultipleNegativesRankingLoss)


def test_trains_two_steps(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    loss = Matryoshka2dLoss(model, MultipleNegativesRankingLoss(model), [32, 16, 8])
    train_two_steps(model, loss, caption_pairs(shared_data), tmp_path)


def test_config_and_citation_match_sentence_transformers(model_pair: tuple) -> None:
    ours, theirs = model_pair
    kwargs = {"matryoshka_weights": [3, 2, 1], "n_layers_per_step": -1, "layer_weighting": "log"}
    loss = Matryoshka2dLoss(ours, CoSENTLoss(ours), [8, 32, 16], **kwargs)
    their_loss = st_losses.Matryoshka2dLoss(theirs, st_losses.CoSENTLoss(theirs), [8, 32, 16], **kwargs)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert list(loss.get_config_dict()) == list(their_loss.get_config_dict())
    assert loss.citation == their_loss.citation
