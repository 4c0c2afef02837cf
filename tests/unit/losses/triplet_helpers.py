"""Helpers shared by the triplet loss tests: labelled batches, real data slices, ST adapters, short training runs."""

from __future__ import annotations

import csv
import functools
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from torch import nn

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.training_args import BatchSamplers

SENTENCES = [
    "a man is playing a guitar",
    "a person plays music",
    "a woman is eating food outside",
    "a woman eats outside",
    "the quick brown fox jumps over the lazy dog",
    "a fox jumps over a dog",
    "two children are playing in the park",
    "children play near the water",
    "what is the capital",
    "the answer to the question",
]
"""Ten sentences: consecutive pairs are paraphrases."""

LABELS = {
    "pairs": torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]),
    "two-classes": torch.tensor([0, 0, 0, 1, 1, 0, 1, 1, 0, 1]),
    "uneven": torch.tensor([3, 3, 3, 3, 3, 3, 7, 7, 9, 9]),
    "singletons": torch.tensor([0, 0, 1, 1, 2, 3, 4, 5, 6, 6]),
    "all-distinct": torch.arange(10),
    "all-same": torch.zeros(10, dtype=torch.long),
    "column": torch.tensor([[0], [0], [1], [1], [0], [1], [2], [2], [2], [0]]),
}
"""Label layouts, including degenerate ones: anchors without positives, or without negatives."""


class ExposedModel(nn.Module):
    """Run an ST loss the way ours runs: its model registered as ``model``, one forward pass per text column.

    ST's batch triplet losses keep the model as ``sentence_embedder``; registering it first as ``model`` gives
    the parameter names ``model.0.auto_model.…`` of the other ST losses, so the parity fixture can line them up
    with ours. ST merges same-shaped columns into one padded forward pass (a speed choice, "the same loss and
    gradients" up to float rounding); ours embeds each column on its own, so merging is switched off here to
    compare the losses rather than the padding's rounding.
    """

    def __init__(self, loss: nn.Module, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, features: list[dict], labels: torch.Tensor | None) -> torch.Tensor:
        from sentence_transformers.base.losses.merged_forward import column_merging_disabled

        with column_merging_disabled():
            return self.loss(features, labels)


def read_csv(path: Path, limit: int) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return [row for _, row in zip(range(limit), csv.DictReader(handle), strict=False)]


def trec_dataset(shared_data: Path, rows: int = 64) -> Dataset:
    """The first ``rows`` TREC questions with their coarse class (6 classes) as an int label."""
    records = read_csv(shared_data / "trec" / "train.csv", rows)
    return Dataset.from_dict({"text": [r["text"] for r in records], "label": [int(r["label"]) for r in records]})


def nli_triplets(shared_data: Path, rows: int = 16) -> Dataset:
    """The first ``rows`` (anchor, positive, negative) NLI triplets."""
    records = read_csv(shared_data / "nli" / "triplet" / "test.csv", rows)
    return Dataset.from_dict({key: [r[key] for r in records] for key in ("anchor", "positive", "negative")})


def training_args(tmp_path: Path, **kwargs: object) -> SentenceTransformerTrainingArguments:
    defaults = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 8,
        "report_to": "none",
        "learning_rate": 1e-3,
        "seed": 7,
        "use_cpu": True,
        "save_strategy": "no",
        "logging_steps": 1,
        "max_steps": 2,
    }
    return SentenceTransformerTrainingArguments(**{**defaults, **kwargs})


def train_two_steps(
    model: SentenceTransformer,
    dataset: Dataset,
    loss: nn.Module,
    tmp_path: Path,
    batch_sampler: BatchSamplers = BatchSamplers.BATCH_SAMPLER,
) -> list[float]:
    """Train for 2 steps; assert the weights moved and return the logged losses."""
    before = {name: value.detach().clone() for name, value in model.state_dict().items()}
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args(tmp_path, batch_sampler=batch_sampler), train_dataset=dataset, loss=loss
    )
    assert trainer.train().global_step == 2
    after = model.state_dict()
    assert any(not torch.equal(before[name], after[name]) for name in before)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2
    assert all(np.isfinite(losses))
    return losses


def euclidean_matrix(embeddings: np.ndarray) -> np.ndarray:
    """``‖e_i - e_j‖₂`` by broadcasting (the reference tests' own distance)."""
    return np.sqrt(((embeddings[:, None, :] - embeddings[None, :, :]) ** 2).sum(-1))


def cosine_matrix(embeddings: np.ndarray) -> np.ndarray:
    """``1 - cos(e_i, e_j)``."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return 1 - unit @ unit.T


def distance_kwargs(kwargs: dict, functions: type) -> dict:
    """Resolve ``distance_metric`` given by name (``"cosine_distance"``, ``"squared"``) on ``functions``."""
    name = kwargs.get("distance_metric")
    if name is None:
        return dict(kwargs)
    metric = (
        functools.partial(functions.euclidean_distance, squared=True) if name == "squared" else getattr(functions, name)
    )
    return {**kwargs, "distance_metric": metric}


DISTANCE_OPTIONS = [
    pytest.param({}, id="default"),
    pytest.param({"margin": 0.3}, id="margin-0.3"),
    pytest.param({"distance_metric": "cosine_distance", "margin": 0.05}, id="cosine"),
    pytest.param({"distance_metric": "squared", "margin": 0.5}, id="squared-euclidean"),
]
"""Options of the batch triplet losses: margins that make some triplets easy, every distance function."""

BAD_LABELLED_SENTENCES = [
    pytest.param({"text": ["a", "b"], "other": ["c", "d"], "label": [0, 1]}, "2 input column", id="two-texts"),
    pytest.param({"text": ["a", "b"], "label": [0.5, 1.5]}, "label column 'label' has dtype", id="float-labels"),
    pytest.param({"text": ["a", "b"]}, "no label column", id="no-labels"),
]
"""Datasets a batch triplet loss must refuse up front, with a fragment of the expected message."""


def assert_trainer_rejects(
    model: SentenceTransformer, loss: nn.Module, columns: dict, expected: str, tmp_path: Path
) -> None:
    """The trainer's up-front validation refuses ``columns`` for ``loss`` with a message matching ``expected``."""
    from embedforge.data.validation import DatasetValidationError

    with pytest.raises(DatasetValidationError, match=expected):
        SentenceTransformerTrainer(
            model=model, args=training_args(tmp_path), train_dataset=Dataset.from_dict(columns), loss=loss
        )


def check_embedding_parity(
    our_loss: nn.Module, their_loss: nn.Module, embeddings: torch.Tensor, labels: torch.Tensor, atol: float = 1e-5
) -> float:
    """Same value and gradient w.r.t. the embeddings from both losses' ``compute_loss_from_embeddings``."""
    results = []
    for loss in (our_loss, their_loss):
        leaf = embeddings.detach().clone().requires_grad_(True)
        value = loss.compute_loss_from_embeddings([leaf], labels)
        value.backward()
        results.append((value.item(), leaf.grad))
    (our_value, our_grad), (their_value, their_grad) = results
    assert our_value == pytest.approx(their_value, abs=atol, rel=0)
    torch.testing.assert_close(our_grad, their_grad, atol=atol, rtol=0)
    return our_value
