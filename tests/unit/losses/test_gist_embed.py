"""GISTEmbedLoss: equal to sentence-transformers 6.2, equal to the written-out formula, trains, validates inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cached_helpers import (
    COLUMNS,
    caption_pairs,
    check_st_parity,
    guide_path,
    load_model,
    single_thread,
    train_two_steps,
)
from datasets import Dataset

from embedforge import SentenceTransformer
from embedforge.data.validation import DatasetValidationError
from embedforge.losses.functional.gist import gist_loss
from embedforge.losses.gist_embed import GISTEmbedLoss

st = pytest.importorskip("sentence_transformers")
st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["guide_path", "single_thread"]

GIST_CASES = [
    pytest.param(2, {}, id="pairs"),
    pytest.param(3, {}, id="triplets"),
    pytest.param(3, {"margin_strategy": "relative", "margin": 0.1}, id="relative"),
    pytest.param(3, {"margin": 0.05, "temperature": 0.05}, id="absolute-margin"),
    pytest.param(3, {"contrast_anchors": False}, id="no-anchor-contrast"),
    pytest.param(2, {"contrast_positives": False, "contrast_anchors": False}, id="no-contrast"),
]


@pytest.fixture(scope="module")
def guides(guide_path: Path) -> tuple[SentenceTransformer, object]:
    """Our guide and sentence-transformers' guide (same weights, different from the trained model)."""
    return load_model(guide_path), st.SentenceTransformer(str(guide_path), device="cpu").eval()


@pytest.fixture(scope="module")
def short_guides(guide_path: Path) -> tuple[SentenceTransformer, object]:
    """Guides reading fewer tokens than the model: inputs are decoded and tokenized again for them."""
    ours, theirs = load_model(guide_path), st.SentenceTransformer(str(guide_path), device="cpu").eval()
    ours.max_seq_length = theirs.max_seq_length = 12
    return ours, theirs


@pytest.mark.parametrize(("num_columns", "kwargs"), GIST_CASES)
def test_matches_sentence_transformers(model_pair: tuple, guides: tuple, num_columns: int, kwargs: dict) -> None:
    (ours, theirs), (our_guide, their_guide) = model_pair, guides
    loss = GISTEmbedLoss(ours, our_guide, **kwargs)
    assert not loss.must_retokenize
    value = check_st_parity(
        (loss, ours), (st_losses.GISTEmbedLoss(theirs, their_guide, **kwargs), theirs), COLUMNS[:num_columns]
    )
    assert value > 0


def test_matches_sentence_transformers_when_retokenizing(model_pair: tuple, short_guides: tuple) -> None:
    (ours, theirs), (our_guide, their_guide) = model_pair, short_guides
    loss = GISTEmbedLoss(ours, our_guide, margin=0.02)
    assert loss.must_retokenize
    check_st_parity((loss, ours), (st_losses.GISTEmbedLoss(theirs, their_guide, margin=0.02), theirs), COLUMNS)


def _direct_gist(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    guide: dict,
    temperature: float,
    margin: float,
) -> float:
    """GISTEmbed written out candidate by candidate (absolute margin, both contrasts, one negative column)."""

    def cos(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(a @ b / (a.norm() * b.norm()))

    total = 0.0
    n = len(anchors)
    for i in range(n):
        threshold = cos(guide["a"][i], guide["p"][i]) - margin
        logits = [cos(anchors[i], positives[i]) / temperature]  # the positive is always kept
        pools = [
            (positives, "p", anchors[i], "a"),
            (anchors, "a", anchors[i], "a"),
            (positives, "p", positives[i], "p"),
            (negatives, "n", anchors[i], "a"),
        ]
        for candidates, key, query, query_key in pools:
            for j in range(n):
                if key == "p" and query_key == "a" and j == i:
                    continue  # the positive, already counted
                guide_score = cos(guide[query_key][i], guide[key][j])
                if guide_score <= threshold:
                    logits.append(cos(query, candidates[j]) / temperature)
        total += float(torch.logsumexp(torch.tensor(logits, dtype=torch.float64), 0)) - logits[0]
    return total / n


def test_value_on_hand_made_embeddings_matches_the_formula() -> None:
    generator = torch.Generator().manual_seed(0)
    anchors, positives, negatives = (torch.randn(4, 3, generator=generator, dtype=torch.float64) for _ in range(3))
    guide = {key: torch.randn(4, 5, generator=generator, dtype=torch.float64) for key in "apn"}
    guide["n"][1] = guide["a"][1] * 2  # a false negative of example 1: the guide finds it closer than the positive
    for margin in (0.0, 0.3):
        value = gist_loss(
            anchors, [positives, negatives], guide["a"], [guide["p"], guide["n"]], temperature=0.5, margin=margin
        )
        assert value.item() == pytest.approx(_direct_gist(anchors, positives, negatives, guide, 0.5, margin), abs=1e-10)


def test_trains_two_steps(tiny_bert_path: Path, guide_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    train_two_steps(model, GISTEmbedLoss(model, load_model(guide_path)), caption_pairs(shared_data), tmp_path)


def test_wrong_columns_are_rejected_before_training(tiny_bert_path: Path, guides: tuple, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    four = Dataset.from_dict({name: ["a b", "c d"] for name in ("anchor", "positive", "negative_1", "negative_2")})
    with pytest.raises(DatasetValidationError, match="4 input column"):
        train_two_steps(model, GISTEmbedLoss(model, guides[0]), four, tmp_path)
    with pytest.raises(ValueError, match="2 or 3 text columns"):
        GISTEmbedLoss(model, guides[0])([model.tokenize(["a"])] * 4, None)


def test_config_and_citation_match_sentence_transformers(model_pair: tuple, guides: tuple) -> None:
    (ours, theirs), (our_guide, their_guide) = model_pair, guides
    kwargs = {"temperature": 0.02, "margin_strategy": "relative", "margin": 0.05, "contrast_positives": False}
    loss, their_loss = GISTEmbedLoss(ours, our_guide, **kwargs), st_losses.GISTEmbedLoss(theirs, their_guide, **kwargs)
    config, their_config = loss.get_config_dict(), their_loss.get_config_dict()
    assert config.pop("guide") is our_guide and their_config.pop("guide") is their_guide
    assert config == their_config
    assert loss.citation == their_loss.citation
    with pytest.raises(ValueError, match="margin_strategy"):
        GISTEmbedLoss(ours, our_guide, margin_strategy="percent")


def test_must_retokenize_can_be_set_as_in_st(model_pair: tuple, guides: tuple) -> None:
    (ours, theirs), (our_guide, their_guide) = model_pair, guides
    loss = GISTEmbedLoss(ours, our_guide)
    their_loss = st_losses.GISTEmbedLoss(theirs, their_guide)
    assert loss.must_retokenize is their_loss.must_retokenize is False
    loss.must_retokenize = their_loss.must_retokenize = True
    their_loss.tokenizer = theirs.tokenizer  # ST only sets this when it decides to retokenize itself
    assert loss.must_retokenize and loss.guided_inputs.must_retokenize
    check_st_parity((loss, ours), (their_loss, theirs), COLUMNS)
