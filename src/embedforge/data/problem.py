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
    """

    dataset: str
    loss: str
    found: str
    fix: str

    def __str__(self) -> str:
        return f"- dataset {self.dataset!r} with {self.loss}: {self.found}. Fix: {self.fix}"
