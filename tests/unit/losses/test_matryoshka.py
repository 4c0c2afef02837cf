"""MatryoshkaLoss: equal to sentence-transformers 6.2 on plain and cached losses, equal to its formula, trains."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from cached_helpers import (
    COLUMNS,
    caption_pairs,
    check_st_parity,
    guide_path,
    load_model,
    single_thread,
    tokenize,
    train_two_steps,
)
from datasets import Dataset
from torch import Tensor, nn

from embedforge.data.validation import DatasetValidationError
from embedforge.losses import CoSENTLoss, MultipleNegativesRankingLoss, functional
from embedforge.losses.cached_gist_embed import CachedGISTEmbedLoss
from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from embedforge.losses.matryoshka import MatryoshkaLoss

st = pytest.importorskip("sentence_transformers")
st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["guide_path", "single_thread"]

SCORES = torch.tensor([0.9, 0.2, 0.5, 0.2, 1.0, 0.4, 0.7])


@pytest.mark.parametrize(
    ("inner", "kwargs"),
    [
        pytest.param("mnrl", {}, id="mnrl"),
        pytest.param("mnrl", {"matryoshka_weights": [1, 2, 3]}, id="weights"),
        pytest.param("mnrl", {"n_dims_per_step": 2}, id="sampled-dims"),
        pytest.param("mnrl", {"matryoshka_dims": [8, 32, 16]}, id="unsorted-dims"),
        pytest.param("cosent", {"matryoshka_weights": [0.5, 1, 2]}, id="cosent-labels"),
        pytest.param("cached", {"matryoshka_weights": [1, 2, 3]}, id="cached"),
        pytest.param("cached", {"n_dims_per_step": 1}, id="cached-sampled"),
    ],
)
def test_matches_sentence_transformers(model_pair: tuple, inner: str, kwargs: dict) -> None:
    ours, theirs = model_pair
    kwargs = {"matryoshka_dims": [32, 16, 8], **kwargs}
    losses = {
        "mnrl": (MultipleNegativesRankingLoss(ours), st_losses.MultipleNegativesRankingLoss(theirs)),
        "cosent": (CoSENTLoss(ours), st_losses.CoSENTLoss(theirs)),
        "cached": (
            CachedMultipleNegativesRankingLoss(ours, mini_batch_size=3),
            st_losses.CachedMultipleNegativesRankingLoss(theirs, mini_batch_size=3),
        ),
    }[inner]
    labels = SCORES if inner == "cosent" else None
    check_st_parity(
        (MatryoshkaLoss(ours, losses[0], **kwargs), ours),
        (st_losses.MatryoshkaLoss(theirs, losses[1], **kwargs), theirs),
        COLUMNS[:2] if inner == "cosent" else COLUMNS,
        labels,
    )


def test_matches_sentence_transformers_on_cached_gist(model_pair: tuple, guide_path: Path) -> None:
    ours, theirs = model_pair
    our_guide, their_guide = load_model(guide_path), st.SentenceTransformer(str(guide_path), device="cpu").eval()
    check_st_parity(
        (MatryoshkaLoss(ours, CachedGISTEmbedLoss(ours, our_guide, mini_batch_size=2), [32, 8]), ours),
        (
            st_losses.MatryoshkaLoss(
                theirs, st_losses.CachedGISTEmbedLoss(theirs, their_guide, mini_batch_size=2), [32, 8]
            ),
            theirs,
        ),
        COLUMNS,
    )


def test_value_matches_the_formula(model_pair: tuple) -> None:
    """Σ_k w_k · MNRL(normalize(e[:, :d_k])) on the model's embeddings, written out."""
    ours, _ = model_pair
    features = tokenize(ours, COLUMNS)
    with torch.no_grad():
        value = MatryoshkaLoss(ours, MultipleNegativesRankingLoss(ours, scale=5.0), [8, 32], [2.0, 0.5])(features, None)
        embeddings = [ours(dict(f))["sentence_embedding"] for f in features]
    expected = 0.0
    for dim, weight in ((32, 0.5), (8, 2.0)):
        cut = [F.normalize(e[:, :dim], dim=-1) for e in embeddings]
        expected += weight * functional.multiple_negatives_ranking_loss(cut[0], cut[1:], scale=5.0).item()
    assert value.item() == pytest.approx(expected, abs=1e-5)


class _RecordingLoss(nn.Module):
    """Records the embedding width and label shape it is called with."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls: list[tuple[int, tuple | None]] = []

    def forward(self, features: list[dict], labels: Tensor | None) -> Tensor:
        embeddings = [self.model(f)["sentence_embedding"] for f in features]
        self.calls.append((embeddings[0].shape[-1], None if labels is None else tuple(labels.shape)))
        return sum(e.sum() for e in embeddings)


def test_embedding_labels_are_truncated_and_the_model_runs_once(model_pair: tuple) -> None:
    ours, _ = model_pair
    recorder = _RecordingLoss(ours)
    runs = []
    handle = ours[0].register_forward_hook(lambda *_: runs.append(1))
    try:
        MatryoshkaLoss(ours, recorder, [32, 16, 4])(tokenize(ours, COLUMNS[:2]), torch.zeros(7, 32))
        MatryoshkaLoss(ours, recorder, [32, 16])(tokenize(ours, COLUMNS[:2]), SCORES)
    finally:
        handle.remove()
    assert recorder.calls == [(32, (7, 32)), (16, (7, 16)), (4, (7, 4)), (32, (7,)), (16, (7,))]
    assert len(runs) == 4  # two columns, once per MatryoshkaLoss call
    assert "forward" not in ours.__dict__  # the model's forward is restored


def test_invalid_dimensions_are_rejected(model_pair: tuple, caplog: pytest.LogCaptureFixture) -> None:
    ours, _ = model_pair
    base = MultipleNegativesRankingLoss(ours)
    for dims, weights, message in (
        ([], None, "at least one"),
        ([32, 0], None, "> 0"),
        ([64], None, "exceed"),
        ([32, 16], [1], "same length"),
    ):
        with pytest.raises(ValueError, match=message):
            MatryoshkaLoss(ours, base, dims, weights)
    with caplog.at_level(logging.WARNING):
        MatryoshkaLoss(ours, base, [16, 8])
    assert "not in matryoshka_dims" in caplog.text


def test_trains_two_steps_plain_and_cached(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    data = caption_pairs(shared_data)
    train_two_steps(model, MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), [32, 16, 8]), data, tmp_path)
    cached = CachedMultipleNegativesRankingLoss(model, mini_batch_size=3)
    train_two_steps(model, MatryoshkaLoss(model, cached, [32, 16, 8], n_dims_per_step=2), data, tmp_path / "c")


def test_inputs_are_validated_as_the_wrapped_loss_declares(tiny_bert_path: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    loss = MatryoshkaLoss(model, CachedMultipleNegativesRankingLoss(model), [32, 16])
    assert loss.input_spec == loss.loss.input_spec
    scored = Dataset.from_dict({"anchor": ["a b", "c d"], "positive": ["e", "f"], "score": [0.1, 0.3]})
    with pytest.raises(DatasetValidationError, match="MatryoshkaLoss: a label column 'score'"):
        train_two_steps(model, loss, scored, tmp_path)


def test_config_and_citation_match_sentence_transformers(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = MatryoshkaLoss(ours, CoSENTLoss(ours), [8, 32, 16], [1, 2, 3], n_dims_per_step=2)
    their_loss = st_losses.MatryoshkaLoss(
        theirs, st_losses.CoSENTLoss(theirs), [8, 32, 16], [1, 2, 3], n_dims_per_step=2
    )
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert loss.citation == their_loss.citation
