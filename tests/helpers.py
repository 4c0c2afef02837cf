"""Assertions shared by the tests."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import torch


def read_csv(path: Path, limit: int) -> list[dict[str, str]]:
    """The first ``limit`` rows of a CSV file (``.gz`` allowed) as dicts."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return [row for _, row in zip(range(limit), reader, strict=False)]


def assert_features_close(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], atol: float = 1e-6) -> None:
    """Same keys, and every tensor equal within ``atol``."""
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, atol=atol, rtol=0)
