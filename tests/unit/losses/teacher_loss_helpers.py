"""Shared by the distillation, GOR and TSDAE loss tests: real data slices and a two-step training run."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from torch import nn

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments


def read_rows(path: Path, limit: int, delimiter: str = ",") -> list[dict[str, str]]:
    """The first ``limit`` rows of a (gzipped) CSV or TSV file of ../shared/data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        reader = csv.DictReader(handle, delimiter=delimiter, quoting=quoting)
        return [row for _, row in zip(range(limit), reader, strict=False)]


def nli_triplets(shared_data: Path, limit: int = 16) -> dict[str, list[str]]:
    """(anchor, positive, negative) columns from the NLI triplets."""
    rows = read_rows(shared_data / "nli" / "triplet" / "validation.csv.gz", limit)
    return {name: [row[name] for row in rows] for name in ("anchor", "positive", "negative")}


def teacher_embeddings(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """``(len(texts), dim)`` embeddings of a model used as the teacher."""
    with torch.no_grad():
        return model.encode(texts, convert_to_numpy=True)


def pairwise_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def train_args(tmp_path: Path, **kwargs: object) -> SentenceTransformerTrainingArguments:
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
    model: SentenceTransformer, dataset: Dataset, loss: nn.Module, tmp_path: Path
) -> SentenceTransformerTrainer:
    """Train for two steps; assert that the model's weights moved and every logged loss is finite."""
    before = weights(model)
    trainer = SentenceTransformerTrainer(model=model, args=train_args(tmp_path), train_dataset=dataset, loss=loss)
    assert trainer.train().global_step == 2
    after = weights(model)
    assert any(not torch.equal(before[name], after[name]) for name in before)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses
    assert all(np.isfinite(value) for value in losses)
    return trainer
