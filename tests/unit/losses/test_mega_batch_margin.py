"""MegaBatchMarginLoss: plain and mini-batched (GradCache) forms equal to sentence-transformers 6.2 and to the
direct formula, equal to each other (also under dropout), train end to end and reject wrong data."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from contrastive_helpers import caption_pairs
from triplet_helpers import assert_trainer_rejects, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.mega_batch_margin import MegaBatchMarginLoss
from embedforge.losses.minibatch import minibatch_ranges, slice_features

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

BOTH_TERMS = {"positive_margin": 0.999, "negative_margin": 0.5}
"""Margins under which both the positive and the negative terms are active for the tiny random model."""

CASES = [
    pytest.param({"use_mini_batched_version": False}, id="plain"),
    pytest.param({"use_mini_batched_version": False, **BOTH_TERMS}, id="plain-both-terms"),
    pytest.param({"mini_batch_size": 2, **BOTH_TERMS}, id="mini-batches-of-2"),
    pytest.param({"mini_batch_size": 50}, id="one-mini-batch"),
    pytest.param({"mini_batch_num_tokens": 20, **BOTH_TERMS}, id="token-budget"),  # rows [0, 2), 2, 3, 4
]


@pytest.mark.parametrize("kwargs", CASES)
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], kwargs: dict
) -> None:
    ours, theirs = model_pair
    value = check_parity(
        MegaBatchMarginLoss(ours, **kwargs), st_losses.MegaBatchMarginLoss(theirs, **kwargs), columns[:2]
    )
    assert value > 0


def _reference(anchors: np.ndarray, positives: np.ndarray, positive_margin: float, negative_margin: float) -> float:
    unit_a = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    unit_p = positives / np.linalg.norm(positives, axis=1, keepdims=True)
    cosines = unit_a @ unit_p.T
    terms = []
    for i in range(len(anchors)):
        hardest = max(cosines[i, j] for j in range(len(anchors)) if j != i)
        terms.append(max(positive_margin - cosines[i, i], 0.0) + max(hardest - negative_margin, 0.0))
    return float(np.mean(terms))


@pytest.mark.parametrize("mini_batch_size", [50, 3])
def test_value_equals_direct_formula(mini_batch_size: int) -> None:
    rng = np.random.default_rng(5)
    anchors = rng.normal(size=(7, 4))
    positives = anchors + 0.8 * rng.normal(size=(7, 4))
    loss = MegaBatchMarginLoss(torch.nn.Identity(), 0.9, 0.2, False, mini_batch_size=mini_batch_size)
    embeddings = [torch.tensor(anchors), torch.tensor(positives)]
    expected = _reference(anchors, positives, 0.9, 0.2)
    assert loss.compute_loss_from_embeddings(embeddings).item() == pytest.approx(expected, abs=1e-9)
    with torch.no_grad():  # scored in blocks of mini_batch_size anchors
        assert loss.calculate_loss([[e] for e in embeddings]).item() == pytest.approx(expected, abs=1e-9)


@pytest.fixture
def dropout_model(tiny_bert_path: Path) -> SentenceTransformer:
    """The tiny model in training mode (dropout 0.1 in the attention and hidden layers)."""
    return SentenceTransformer(str(tiny_bert_path), device="cpu").train()


def _value_and_grads(model: SentenceTransformer, run: Callable[[], torch.Tensor]) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(11)
    value = run()
    value.backward()
    return value.item(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_mini_batched_replays_dropout(dropout_model: SentenceTransformer, columns: list[list[str]]) -> None:
    """Under dropout the cached gradients are those of the plain loss on the very embeddings of the first pass."""
    model = dropout_model
    features = [model.tokenize(column) for column in columns[:2]]
    loss = MegaBatchMarginLoss(model, mini_batch_size=2, **BOTH_TERMS)

    def same_masks_plain() -> torch.Tensor:  # embed the same mini-batches in the same order, with a graph
        reps = [
            [model(slice_features(f, b, e))["sentence_embedding"] for b, e in minibatch_ranges(f, 2)] for f in features
        ]
        return loss.compute_loss_from_embeddings([torch.cat(column) for column in reps])

    cached_value, cached_grads = _value_and_grads(model, lambda: loss([dict(f) for f in features]))
    plain_value, plain_grads = _value_and_grads(model, same_masks_plain)
    assert cached_value == pytest.approx(plain_value, abs=1e-6)
    for cached, plain in zip(cached_grads, plain_grads, strict=True):
        torch.testing.assert_close(cached, plain, atol=1e-6, rtol=0)
    _, other_masks = _value_and_grads(model, lambda: loss.compute_loss_from_embeddings(embed_columns(model, features)))
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(plain_grads, other_masks, strict=True))


def test_mini_batched_equals_plain_and_evaluates_without_graph(model_pair: tuple, columns: list[list[str]]) -> None:
    ours = copy.deepcopy(model_pair[0]).eval()
    features = [ours.tokenize(column) for column in columns[:2]]
    plain = MegaBatchMarginLoss(ours, use_mini_batched_version=False, **BOTH_TERMS)
    cached = MegaBatchMarginLoss(ours, mini_batch_size=2, **BOTH_TERMS)
    plain_value, plain_grads = _value_and_grads(ours, lambda: plain(features))
    cached_value, cached_grads = _value_and_grads(ours, lambda: cached(features))
    assert cached_value == pytest.approx(plain_value, abs=1e-6)
    for a, b in zip(cached_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    with torch.no_grad():
        evaluated = cached(features)
    assert not evaluated.requires_grad
    assert evaluated.item() == pytest.approx(plain_value, abs=1e-6)


def test_trains_on_caption_pairs(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = MegaBatchMarginLoss(model, mini_batch_size=3, **BOTH_TERMS)
    train_two_steps(model, caption_pairs(shared_data), loss, tmp_path)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param({"a": ["x", "y"], "b": ["x", "y"], "c": ["x", "y"]}, "3 input column", id="three-texts"),
        pytest.param({"a": ["x", "y"], "b": ["x", "y"], "label": [0, 1]}, "takes no labels", id="label"),
    ],
)
def test_trainer_rejects_wrong_data(model_pair: tuple, tmp_path: Path, columns: dict, expected: str) -> None:
    ours, _ = model_pair
    assert_trainer_rejects(ours, MegaBatchMarginLoss(ours), columns, expected, tmp_path)


def test_forward_rejects_three_columns(model_pair: tuple, columns: list[list[str]]) -> None:
    ours, _ = model_pair
    with pytest.raises(ValueError, match="exactly 2 text columns"):
        MegaBatchMarginLoss(ours)([ours.tokenize(column) for column in columns[:3]])


def test_static_embedding_model_needs_the_plain_version(tiny_bert_path: Path) -> None:
    from transformers import AutoTokenizer

    from embedforge.models import StaticEmbedding

    static = SentenceTransformer(
        modules=[StaticEmbedding(AutoTokenizer.from_pretrained(tiny_bert_path), embedding_dim=4)], device="cpu"
    )
    with pytest.raises(ValueError, match="StaticEmbedding"):
        MegaBatchMarginLoss(static)
    loss = MegaBatchMarginLoss(static, use_mini_batched_version=False)
    assert not loss.uses_gradient_cache
    value = loss([static.tokenize(["a man", "a dog runs"]), static.tokenize(["a person", "the dog"])])
    assert torch.isfinite(value)


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    kwargs = {"positive_margin": 0.7, "negative_margin": 0.1, "mini_batch_size": 8, "mini_batch_num_tokens": 64}
    loss = MegaBatchMarginLoss(ours, **kwargs)
    assert loss.get_config_dict() == st_losses.MegaBatchMarginLoss(theirs, **kwargs).get_config_dict()
    assert loss.citation == st_losses.MegaBatchMarginLoss(theirs).citation
    assert isinstance(loss, Loss)
    assert loss.uses_gradient_cache
    assert loss.input_spec == InputSpec(2, 2, LabelKind.NONE, loss.input_spec.description)
    with pytest.raises(ValueError, match="mini_batch_num_tokens"):
        MegaBatchMarginLoss(ours, mini_batch_num_tokens=0)
