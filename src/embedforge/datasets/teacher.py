"""TeacherModel: the one method a distillation teacher needs, as a structural type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np


class TeacherModel(Protocol):
    """Any model that embeds texts like ``SentenceTransformer.encode`` with ``convert_to_numpy=True``.

    Only the keyword arguments below are passed. ``SentenceTransformer`` (ours or sentence-transformers') fits, as
    does any object with a compatible ``encode`` method; no base class is needed.
    """

    def encode(
        self,
        sentences: list[str],
        /,
        *,
        batch_size: int,
        show_progress_bar: bool,
        convert_to_numpy: bool,
    ) -> np.ndarray | Sequence[np.ndarray]:
        """Embed ``sentences`` into an array of shape ``(len(sentences), dim)`` (or a list of ``(dim,)`` rows)."""
        ...
