"""Helpers for the GradCache, GIST and modifier loss tests: models, batches, gradient comparisons, short training."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from types import ModuleType

import pytest
import torch
from datasets import Dataset
from torch import nn

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

ANCHORS = [
    "a man is playing a guitar",
    "a woman is eating food outside",
    "the quick brown fox jumps over the lazy dog",
    "two children are playing in the park",
    "what is the capital",
    "a dog runs on the beach",
    "an old man sits under a big red table and plays music with three young people outside the house",
]
POSITIVES = [
    "a person plays music",
    "a woman eats outside",
    "a fox jumps over a dog",
    "children play near the water",
    "the answer to the question",
    "the dog is running",
    "people play music",
]
NEGATIVES = [
    "a cat sits on the table",
    "a dog runs on the beach near the water",
    "an old man walks in the street",
    "the car is red",
    "three people sit inside the house",
    "the green ball is under the table",
    "where is the blue car",
]
COLUMNS = [ANCHORS, POSITIVES, NEGATIVES]
"""Seven rows (not divisible by the mini-batch sizes used), texts of very different lengths."""


def _root_conftest() -> ModuleType:
    """tests/conftest.py (``import conftest`` here would find this folder's conftest)."""
    path = Path(__file__).resolve().parents[2] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_embedforge_root_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """Run the module's tiny-model tests on one intra-op thread (several times faster on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def guide_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny BERT (other weights, same vocabulary) to serve as a GIST guide."""
    return _root_conftest().build_tiny_bert(tmp_path_factory.mktemp("tiny-guide"), seed=1)


def load_model(path: Path, dtype: torch.dtype = torch.float32, include_prompt: bool = True) -> SentenceTransformer:
    """Our model of ``path`` in eval mode, in ``dtype``, with ``Pooling(include_prompt=...)``."""
    model = SentenceTransformer(str(path), device="cpu").eval().to(dtype)
    model.set_pooling_include_prompt(include_prompt)
    return model


def tokenize(model: nn.Module, columns: Sequence[Sequence[str]], prompt: str | None = None) -> list[dict]:
    """One tokenized batch per column (our ``tokenize`` or ST's ``preprocess``)."""
    run = model.tokenize if isinstance(model, SentenceTransformer) else model.preprocess
    return [run(list(column), prompt=prompt) if prompt else run(list(column)) for column in columns]


def loss_and_grads(
    loss: nn.Module, model: nn.Module, features: list[dict], labels: torch.Tensor | None = None, seed: int = 3
) -> tuple[float, list[torch.Tensor | None]]:
    """The loss value and the gradient of every model parameter (in parameter order), from a clean state."""
    model.zero_grad(set_to_none=True)
    random.seed(seed)
    torch.manual_seed(seed)
    value = loss(features, labels)
    value.backward()
    return value.item(), [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]


def assert_same_grads(
    ours: list[torch.Tensor | None], theirs: list[torch.Tensor | None], atol: float = 1e-5, rtol: float = 0.0
) -> None:
    """Every gradient present in both or neither, and equal within tolerance; at least one present."""
    assert len(ours) == len(theirs)
    assert any(grad is not None for grad in ours)
    for our_grad, their_grad in zip(ours, theirs, strict=True):
        assert (our_grad is None) == (their_grad is None)
        if our_grad is not None:
            torch.testing.assert_close(our_grad, their_grad.to(our_grad.dtype), atol=atol, rtol=rtol)


def check_st_parity(
    ours: tuple[nn.Module, nn.Module],
    theirs: tuple[nn.Module, nn.Module],
    columns: Sequence[Sequence[str]],
    labels: torch.Tensor | None = None,
    atol: float = 1e-5,
) -> float:
    """``(loss, model)`` of ours and of sentence-transformers: same value and model gradients on the same batch.

    sentence-transformers merges same-shaped columns into one forward pass (rounding differs from one pass per
    column), so merging is switched off for the comparison, as the other loss tests do.
    """
    from sentence_transformers.base.losses import merged_forward

    our_value, our_grads = loss_and_grads(*ours, tokenize(ours[1], columns), labels)
    disabled = getattr(merged_forward, "column_merging_disabled", nullcontext)
    with disabled():
        their_value, their_grads = loss_and_grads(*theirs, tokenize(theirs[1], columns), labels)
    assert our_value == pytest.approx(their_value, abs=atol, rel=0)
    assert_same_grads(our_grads, their_grads, atol=atol)
    return our_value


def read_rows(path: Path, limit: int) -> list[dict[str, str]]:
    """The first ``limit`` rows of a (gzipped) CSV."""
    opener: Callable = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return [row for _, row in zip(range(limit), csv.DictReader(handle), strict=False)]


def caption_pairs(shared_data: Path, limit: int = 24) -> Dataset:
    """(anchor, positive) Flickr8k caption pairs, one per image."""
    rows = read_rows(shared_data / "flickr8k-captions" / "train_pairs.csv.gz", limit * 6)
    seen, pairs = set(), []
    for row in rows:
        if row["image_id"] not in seen:
            seen.add(row["image_id"])
            pairs.append(row)
    pairs = pairs[:limit]
    return Dataset.from_dict({"anchor": [r["anchor"] for r in pairs], "positive": [r["positive"] for r in pairs]})


def nli_triplets(shared_data: Path, limit: int = 24) -> Dataset:
    """(anchor, positive, negative) NLI triplets."""
    rows = read_rows(shared_data / "nli" / "triplet" / "test.csv", limit)
    return Dataset.from_dict({key: [r[key] for r in rows] for key in ("anchor", "positive", "negative")})


def train_two_steps(
    model: SentenceTransformer, loss: nn.Module, dataset: Dataset, tmp_path: Path, **kwargs: object
) -> SentenceTransformerTrainer:
    """Train two steps of batch 8 on CPU; assert the loss was finite and the model's weights changed."""
    before = [p.detach().clone() for p in model.parameters()]
    defaults = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 8,
        "max_steps": 2,
        "report_to": "none",
        "learning_rate": 1e-3,
        "seed": 7,
        "use_cpu": True,
        "save_strategy": "no",
        "logging_steps": 1,
    }
    args = SentenceTransformerTrainingArguments(**{**defaults, **kwargs})
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, model.parameters(), strict=True))
    return trainer
