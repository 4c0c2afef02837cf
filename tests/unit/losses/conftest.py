"""Fixtures for the loss tests: our model and its sentence-transformers twin, and a parity check between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from torch import nn

import embedforge

ANCHORS = [
    "a man is playing a guitar",
    "a woman is eating food outside",
    "the quick brown fox jumps over the lazy dog",
    "two children are playing in the park",
    "what is the capital",
]
POSITIVES = [
    "a person plays music",
    "a woman eats outside",
    "a fox jumps over a dog",
    "children play near the water",
    "the answer to the question",
]
NEGATIVES = [
    "a cat sits on the table",
    "a dog runs on the beach",
    "an old man walks in the street",
    "the car is red",
    "three people sit inside the house",
]
NEGATIVES_2 = [
    "the green ball is under the table",
    "two dogs are running",
    "a small child eats",
    "a young woman plays the guitar outside",
    "where is the blue car",
]


@pytest.fixture
def columns() -> list[list[str]]:
    """Four text columns of five rows: anchors, positives, and two hard-negative columns."""
    return [list(ANCHORS), list(POSITIVES), list(NEGATIVES), list(NEGATIVES_2)]


@pytest.fixture(scope="module")
def model_pair(_tiny_bert_session: Path) -> tuple[embedforge.SentenceTransformer, nn.Module]:
    """Our tiny BERT model and sentence-transformers' model of the same checkpoint, both in eval mode.

    Module-scoped: the tests only read the parameters and reset their gradients.
    """
    st = pytest.importorskip("sentence_transformers")
    ours = embedforge.SentenceTransformer(str(_tiny_bert_session), device="cpu").eval()
    theirs = st.SentenceTransformer(str(_tiny_bert_session), device="cpu").eval()
    return ours, theirs


def _loss_and_grads(loss: nn.Module, features: list[dict], labels: torch.Tensor | None) -> tuple[float, list]:
    loss.zero_grad(set_to_none=True)
    value = loss(features, labels)
    value.backward()
    grads = [None if p.grad is None else p.grad.detach().clone() for p in loss.parameters()]
    return value.item(), grads


def _parameter_suffixes(module: nn.Module) -> list[str]:
    """Parameter names without the backbone attribute, which differs (``auto_model`` vs ``model``)."""
    names = []
    for name, _ in module.named_parameters():
        parts = name.split(".")
        names.append(".".join(parts[3:]) if parts[:2] == ["model", "0"] else name)
    return names


@pytest.fixture
def check_parity(model_pair: tuple) -> Callable[..., float]:
    """Assert that our loss and ST's give the same value and parameter gradients on the same batch."""
    ours, theirs = model_pair

    def check(
        our_loss: nn.Module,
        their_loss: nn.Module,
        columns: Sequence[Sequence[str]],
        labels: torch.Tensor | None = None,
        atol: float = 1e-5,
    ) -> float:
        our_value, our_grads = _loss_and_grads(our_loss, [ours.tokenize(list(c)) for c in columns], labels)
        their_value, their_grads = _loss_and_grads(their_loss, [theirs.preprocess(list(c)) for c in columns], labels)
        assert our_value == pytest.approx(their_value, abs=atol, rel=0)
        assert _parameter_suffixes(our_loss) == _parameter_suffixes(their_loss)
        assert any(grad is not None for grad in our_grads)
        for our_grad, their_grad in zip(our_grads, their_grads, strict=True):
            assert (our_grad is None) == (their_grad is None)
            if our_grad is not None:
                torch.testing.assert_close(our_grad, their_grad, atol=atol, rtol=0)
        return our_value

    return check
