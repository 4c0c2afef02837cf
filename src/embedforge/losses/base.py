"""Base class of embedforge's losses: each one declares the data it accepts.

The declaration (:class:`InputSpec`) lets the trainer check every dataset against its loss before the first
step, and lets the model card describe the loss. Any ``nn.Module`` whose ``forward(sentence_features, labels)``
returns a scalar still works as a loss (sentence-transformers' contract); it just is not checked up front.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor, nn

if TYPE_CHECKING:
    from embedforge.model.sentence_transformer import SentenceTransformer
    from embedforge.models.base import Features


class LabelKind(str, Enum):
    """What a loss expects in the ``label``/``score`` column."""

    NONE = "none"
    """No label column: the structure of the inputs is the supervision (e.g. anchor/positive pairs)."""
    OPTIONAL = "optional"
    """A label column may be present or not."""
    FLOAT = "float"
    """A float score per row, e.g. a similarity in [0, 1]."""
    INT = "int"
    """An integer class per row."""
    BINARY = "binary"
    """0 or 1 per row."""
    FLOAT_LIST = "float_list"
    """A list of floats per row (teacher scores or embeddings)."""
    INT_OR_FLOAT_LIST = "int_or_float_list"
    """An integer class, or a list of class probabilities, per row."""
    FLOAT_OR_FLOAT_LIST = "float_or_float_list"
    """A float or a list of floats per row (e.g. a teacher margin, or one teacher score per candidate)."""
    ANY = "any"
    """Whatever the wrapped loss expects (loss modifiers)."""


@dataclass(frozen=True)
class InputSpec:
    """The dataset columns a loss accepts.

    Attributes:
        min_texts: Fewest text columns.
        max_texts: Most text columns; None for no limit.
        label: What the label column must hold.
        description: The accepted layouts in words, e.g. ``"(anchor, positive) or (anchor, positive,
            negative_1, ..., negative_n)"``, used in error messages and model cards.
    """

    min_texts: int
    max_texts: int | None
    label: LabelKind
    description: str

    def accepts_text_count(self, count: int) -> bool:
        """True if ``count`` text columns fit."""
        return count >= self.min_texts and (self.max_texts is None or count <= self.max_texts)


class Loss(nn.Module, ABC):
    """A training objective for a SentenceTransformer.

    Subclasses set ``input_spec`` (the data they accept), ``config_keys`` (constructor arguments shown in
    model cards), and ``citation`` (BibTeX, or None), and implement :meth:`forward`.

    Args:
        model: The model being trained.
    """

    input_spec: ClassVar[InputSpec]
    config_keys: ClassVar[tuple[str, ...]] = ()
    citation: ClassVar[str | None] = None

    def __init__(self, model: SentenceTransformer) -> None:
        super().__init__()
        self.model = model

    @abstractmethod
    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Compute the loss of one batch.

        Args:
            sentence_features: One tokenized batch per text column, each with ``input_ids`` ``(batch, seq)``….
            labels: ``(batch,)`` (or ``(batch, k)``) labels, or None for label-free losses.

        Returns:
            A scalar tensor.
        """

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments listed in ``config_keys`` (for model cards)."""
        return {key: _describe(getattr(self, key)) for key in self.config_keys}


def _describe(value: Any) -> Any:
    """Make a config value readable in a model card: functions and modules by name."""
    if isinstance(value, (str, int, float, bool, type(None), list, tuple, dict)):
        return value
    if isinstance(value, Enum):
        return value.value
    name = getattr(value, "__qualname__", None) or type(value).__name__
    module = getattr(value, "__module__", "")
    return f"{module}.{name}" if module else name
