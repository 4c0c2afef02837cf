"""AdaptiveLayerLoss: equal to sentence-transformers 6.2, equal to its formula, trains, rejects what it cannot run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from cached_helpers import COLUMNS, caption_pairs, check_st_parity, load_model, single_thread, tokenize, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import CoSENTLoss, MultipleNegativesRankingLoss, functional
from embedforge.losses.adaptive_layer import AdaptiveLayerLoss
from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from embedforge.losses.functional.modifiers import layer_weight
from embedforge.losses.matryoshka import MatryoshkaLoss
from embedforge.models import StaticEmbedding

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]


def half_weight(layer: int) -> float:
    return 0.5 + layer


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"n_layers_per_step": -1, "layer_weighting": "log"}, id="all-layers-log"),
        pytest.param({"kl_temperature": 0.0, "layer_weighting": "linear", "last_layer_weight": 2.0}, id="no-kl-linear"),
        pytest.param(
            {"n_layers_per_step": 2, "prior_layers_weight": 0.5, "kl_div_weight": 3.0, "layer_weighting": half_weight},
            id="callable-weights",
        ),
    ],
)
def test_matches_sentence_transformers(model_pair: tuple, kwargs: dict) -> None:
    ours, theirs = model_pair
    check_st_parity(
        (AdaptiveLayerLoss(ours, MultipleNegativesRankingLoss(ours), **kwargs), ours),
        (st_losses.AdaptiveLayerLoss(theirs, st_losses.MultipleNegativesRankingLoss(theirs), **kwargs), theirs),
        COLUMNS,
    )


def test_matches_sentence_transformers_with_labels(model_pair: tuple) -> None:
    ours, theirs = model_pair
    scores = torch.tensor([0.9, 0.2, 0.5, 0.2, 1.0, 0.4, 0.7])
    check_st_parity(
        (AdaptiveLayerLoss(ours, CoSENTLoss(ours), n_layers_per_step=-1), ours),
        (st_losses.AdaptiveLayerLoss(theirs, st_losses.CoSENTLoss(theirs), n_layers_per_step=-1), theirs),
        COLUMNS[:2],
        scores,
    )


def test_value_matches_the_formula(model_pair: tuple) -> None:
    """Final-layer loss + mean over prior layers of (weighted layer loss + T·KL), from the hidden states."""
    ours, _ = model_pair
    features = tokenize(ours, COLUMNS[:2])
    transformer = ours[0].auto_model
    with torch.no_grad():
        value = AdaptiveLayerLoss(
            ours, MultipleNegativesRankingLoss(ours), n_layers_per_step=-1, layer_weighting="log", kl_temperature=0.5
        )(features, None).item()
        per_layer = []
        for f in features:
            hidden = transformer(
                **{k: f[k] for k in ("input_ids", "attention_mask", "token_type_ids")}, output_hidden_states=True
            ).hidden_states
            mask = f["attention_mask"].unsqueeze(-1).to(hidden[0].dtype)
            per_layer.append([(h * mask).sum(1) / mask.sum(1) for h in hidden])  # mean pooling per layer
    layers = len(per_layer[0])
    final = [column[-1] for column in per_layer]
    expected = functional.multiple_negatives_ranking_loss(final[0], final[1:]).item()
    for layer in range(layers - 1):
        embeddings = [column[layer] for column in per_layer]
        weight = 1 / (1 + math.log(1 + layer))
        expected += (
            functional.multiple_negatives_ranking_loss(embeddings[0], embeddings[1:]).item() * weight / (layers - 1)
        )
        kl = F.kl_div(
            F.log_softmax(torch.cat(embeddings) / 0.5, -1), F.softmax(torch.cat(final) / 0.5, -1), reduction="batchmean"
        )
        expected += kl.item() * 0.5
    assert value == pytest.approx(expected, abs=1e-5)


def test_layer_weights() -> None:
    assert [layer_weight(i) for i in range(3)] == [1.0, 1.0, 1.0]
    assert layer_weight(2, "linear") == pytest.approx(1 / 3)
    assert layer_weight(2, "log") == pytest.approx(1 / (1 + math.log(3)))
    assert layer_weight(2, half_weight) == 2.5


def test_trains_two_steps(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    loss = AdaptiveLayerLoss(model, MultipleNegativesRankingLoss(model))
    train_two_steps(model, loss, caption_pairs(shared_data), tmp_path)
    assert "forward" not in model.__dict__ and "forward" not in model[0].__dict__
    assert model[0].auto_model.config.output_hidden_states is False


def test_rejects_what_it_cannot_run(model_pair: tuple) -> None:
    ours, _ = model_pair
    with pytest.raises(ValueError, match="layer_weighting"):
        AdaptiveLayerLoss(ours, MultipleNegativesRankingLoss(ours), layer_weighting="cubic")
    static = SentenceTransformer(modules=[StaticEmbedding(ours.tokenizer, embedding_dim=8)], device="cpu")
    with pytest.raises(ValueError, match="first module is a Transformer"):
        AdaptiveLayerLoss(static, MultipleNegativesRankingLoss(static))


def test_cached_wrapped_loss_trains_two_steps(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Sampled layers (n_layers_per_step=1) through the gradient cache, in the trainer; equality: see the CachedMNRL
    tests (scenarios adaptive-layer and matryoshka-2d)."""
    model = load_model(tiny_bert_path)
    inner = MatryoshkaLoss(model, CachedMultipleNegativesRankingLoss(model, mini_batch_size=5), [32, 16])
    loss = AdaptiveLayerLoss(model, inner)
    train_two_steps(model, loss, caption_pairs(shared_data), tmp_path)
    assert model[0].auto_model.config.output_hidden_states is False


def test_config_and_citation_match_sentence_transformers(model_pair: tuple) -> None:
    ours, theirs = model_pair
    kwargs = {"n_layers_per_step": 2, "kl_temperature": 0.1, "layer_weighting": half_weight}
    loss = AdaptiveLayerLoss(ours, MultipleNegativesRankingLoss(ours), **kwargs)
    their_loss = st_losses.AdaptiveLayerLoss(theirs, st_losses.MultipleNegativesRankingLoss(theirs), **kwargs)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert loss.citation == their_loss.citation
    assert loss.input_spec == MultipleNegativesRankingLoss.input_spec
