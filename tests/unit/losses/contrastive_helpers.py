"""Helpers of the contrastive-family loss tests: real data slices and a parity check for two-encoder losses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset
from torch import nn
from triplet_helpers import read_csv

import embedforge

PAIRS_A = [
    "a man is playing a guitar",
    "a woman is eating food outside",
    "the quick brown fox jumps over the lazy dog",
    "two children are playing in the park",
    "what is the capital",
    "a dog runs on the beach",
]
PAIRS_B = [
    "a person plays music",
    "a cat sits on the table",
    "a fox jumps over a dog",
    "the car is red",
    "the answer to the question",
    "a dog runs on the beach",
]
BINARY_LABELS = torch.tensor([1, 0, 1, 0, 1, 1])
"""Six pairs with 0/1 labels; the last pair is two identical texts."""


def mrpc_pairs(shared_data: Path, rows: int = 16) -> Dataset:
    """The first MRPC training rows: ``sentence1, sentence2, label`` (1 = paraphrase, 0 = not)."""
    records = read_csv(shared_data / "mrpc" / "train.csv", rows)
    return Dataset.from_dict(
        {
            "sentence1": [r["sentence1"] for r in records],
            "sentence2": [r["sentence2"] for r in records],
            "label": [int(r["label"]) for r in records],
        }
    )


def caption_pairs(shared_data: Path, rows: int = 16) -> Dataset:
    """Flickr8k caption pairs of the same image: ``anchor, positive``."""
    records = read_csv(shared_data / "flickr8k-captions" / "train_pairs.csv.gz", rows)
    return Dataset.from_dict({"anchor": [r["anchor"] for r in records], "positive": [r["positive"] for r in records]})


def stsb_pairs(shared_data: Path, rows: int = 16) -> Dataset:
    """STSb training pairs with their 0..1 ``score``."""
    records = read_csv(shared_data / "stsb" / "train.csv", rows)
    return Dataset.from_dict(
        {
            "sentence1": [r["sentence1"] for r in records],
            "sentence2": [r["sentence2"] for r in records],
            "score": [float(r["score"]) for r in records],
        }
    )


def stsb_sentences(shared_data: Path, rows: int = 40) -> list[str]:
    """The first sentence of the first STSb training pairs."""
    return [r["sentence1"] for r in read_csv(shared_data / "stsb" / "train.csv", rows)]


def _loss_and_grads(loss: nn.Module, features: list[dict], labels: torch.Tensor | None) -> tuple[float, list]:
    loss.zero_grad(set_to_none=True)
    value = loss(features, labels)
    value.backward()
    return value.item(), [(name, param.grad) for name, param in loss.named_parameters()]


def _role(name: str) -> str:
    """``model1.0.<backbone>.rest`` → ``model1.rest``; our trained ``model.…`` is ST's ``model2.…``."""
    parts = name.split(".")
    if parts[0] in ("model", "model1", "model2") and len(parts) > 3:
        role = "model2" if parts[0] == "model" else parts[0]
        return ".".join([role, *parts[3:]])
    return name


def check_two_encoder_parity(
    our_loss: nn.Module,
    their_loss: nn.Module,
    model_pair: tuple[embedforge.SentenceTransformer, nn.Module],
    columns: list[list[str]],
    labels: torch.Tensor | None = None,
    atol: float = 1e-5,
) -> float:
    """Same value and same gradient on every parameter (both encoders and loss weights) as ST's loss."""
    ours, theirs = model_pair
    our_value, our_grads = _loss_and_grads(our_loss, [ours.tokenize(c) for c in columns], labels)
    their_value, their_grads = _loss_and_grads(their_loss, [theirs.preprocess(c) for c in columns], labels)
    assert our_value == pytest.approx(their_value, abs=atol, rel=0)
    assert sorted(_role(name) for name, _ in our_grads) == sorted(_role(name) for name, _ in their_grads)
    theirs_by_name = {_role(name): grad for name, grad in their_grads}
    for name, grad in our_grads:
        expected = theirs_by_name[_role(name)]
        assert (grad is None) == (expected is None), name
        if grad is not None:
            torch.testing.assert_close(grad, expected, atol=atol, rtol=0, msg=name)
    assert any(grad is not None and grad.abs().sum() > 0 for name, grad in our_grads if name.startswith("model1."))
    assert any(grad is not None and grad.abs().sum() > 0 for name, grad in our_grads if name.startswith("model."))
    return our_value
