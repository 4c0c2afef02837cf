"""Problem: one thing wrong with a dataset, as the up-front data checks report it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset.

    Attributes:
        dataset: The dataset's name (``"train"`` for a single dataset).
        loss: The loss class name.
        found: What was found.
        fix: How to fix it.
        source: Where the dataset was read from (e.g. ``file data/stsb.csv``), when known.
    """

    dataset: str
    loss: str
    found: str
    fix: str
    source: str | None = None

    def __str__(self) -> str:
        source = f"{self.source}: " if self.source else ""
        return f"- {source}dataset {self.dataset!r} with {self.loss}: {self.found}. Fix: {self.fix}"
