"""InputExample: one training example (texts, label, id) of the legacy ``model.fit`` API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(eq=False)
class InputExample:
    """One example: its texts, its label and an id, as ``sentence_transformers.InputExample``.

    Equality and hashing are by identity, as in sentence-transformers (labels may be numpy arrays, which have no
    plain ``==``).

    Args:
        guid: An id for the example.
        texts: The texts of the example (one, a pair, a triplet...).
        label: The label: a class id, a score, or a teacher embedding of shape ``(dim,)``.

    Example:
        >>> str(InputExample(texts=["A man eats.", "Someone eats."], label=0.8))
        '<InputExample> label: 0.8, texts: A man eats.; Someone eats.'
    """

    guid: str = ""
    texts: list[str] | None = None
    label: int | float | np.ndarray = 0

    def __str__(self) -> str:
        texts = "; ".join(self.texts) if self.texts is not None else ""
        return f"<InputExample> label: {self.label}, texts: {texts}"
