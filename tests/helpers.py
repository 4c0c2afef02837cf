"""Assertions shared by the tests."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from datasets import Dataset

if TYPE_CHECKING:
    from embedforge import SentenceTransformerTrainingArguments


def read_csv(path: Path, limit: int) -> list[dict[str, str]]:
    """The first ``limit`` rows of a CSV file (``.gz`` allowed) as dicts."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return [row for _, row in zip(range(limit), reader, strict=False)]


def stsb_scored(shared_data: Path, rows: int) -> Dataset:
    """The first ``rows`` STSb train rows as (sentence1, sentence2, score) with scores in [0, 1]."""
    found = read_csv(shared_data / "stsb" / "train.csv", rows)
    return Dataset.from_dict(
        {
            "sentence1": [r["sentence1"] for r in found],
            "sentence2": [r["sentence2"] for r in found],
            "score": [float(r["score"]) for r in found],
        }
    )


def caption_pairs(shared_data: Path, rows: int) -> Dataset:
    """The first ``rows`` Flickr8k train caption pairs as (anchor, positive)."""
    found = read_csv(shared_data / "flickr8k-captions" / "train_pairs.csv.gz", rows)
    return Dataset.from_dict({"anchor": [r["anchor"] for r in found], "positive": [r["positive"] for r in found]})


def assert_features_close(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], atol: float = 1e-6) -> None:
    """Same keys, and every tensor equal within ``atol``."""
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, atol=atol, rtol=0)


def short_run_arguments(output: Path, steps: int, **overrides: object) -> SentenceTransformerTrainingArguments:
    """Training arguments for a few logged CPU steps of batch 8 (seed 7, lr 1e-3, no checkpoints), with overrides."""
    from embedforge import SentenceTransformerTrainingArguments

    settings: dict[str, object] = {
        "output_dir": str(output),
        "per_device_train_batch_size": 8,
        "max_steps": steps,
        "learning_rate": 1e-3,
        "seed": 7,
        "use_cpu": True,
        "save_strategy": "no",
        "logging_steps": 1,
        "report_to": "none",
    }
    settings.update(overrides)
    return SentenceTransformerTrainingArguments(**settings)


def without_dropout(path: Path) -> Path:
    """Turn dropout off in the transformers checkpoint at ``path`` (its config.json, in place); return ``path``.

    Only without dropout can two runs whose random draws differ (compiled code, other padded shapes) agree.
    """
    config_file = path / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config_file.write_text(json.dumps(config), encoding="utf-8")
    return path


class SameDtypeMSE(torch.nn.Module):
    """``mse_loss`` that refuses operands of different dtypes (torch 2.11 and older fail their backward)."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean squared error, after checking that both operands share a dtype."""
        assert prediction.dtype == target.dtype, (prediction.dtype, target.dtype)
        return torch.nn.functional.mse_loss(prediction, target)
