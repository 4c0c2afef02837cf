"""Base classes of embedforge's losses: each one declares the data it accepts.

The declaration (:class:`InputSpec`) lets the trainer check every dataset against its loss before the first
step, and lets the model card describe the loss. :class:`BaseLoss` is what every model family's losses share;
:class:`Loss` is the bi-encoder family's (``forward(sentence_features, labels)``), and
:class:`~embedforge.cross_encoder.losses.base.CrossEncoderLoss` the cross-encoder family's. Any ``nn.Module``
that follows a family's calling convention still works as a loss; it just is not checked up front.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor, nn

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
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
    PROBABILITY = "probability"
    """A float in [0, 1] per row (1/0 for relevant/irrelevant, or a soft score)."""
    PER_DOCUMENT = "per_document"
    """A list per row with one float for each document of the row's list column (listwise ranking losses)."""
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
        list_columns: Positions (0-based, among the input columns) of columns that hold a list of texts per row
            instead of one text, e.g. ``(1,)`` for (query, [documents]).
    """

    min_texts: int
    max_texts: int | None
    label: LabelKind
    description: str
    list_columns: tuple[int, ...] = ()

    def accepts_text_count(self, count: int) -> bool:
        """True if ``count`` text columns fit."""
        return count >= self.min_texts and (self.max_texts is None or count <= self.max_texts)


class BaseLoss(nn.Module, ABC):
    """A training objective of any model family: it declares its data, its card config and its citation.

    Subclasses set ``input_spec`` (the data they accept), ``config_keys`` (constructor arguments shown in
    model cards), and ``citation`` (BibTeX, or None), and implement ``forward`` with their family's convention.

    Args:
        model: The model being trained.
    """

    input_spec: ClassVar[InputSpec]
    config_keys: ClassVar[tuple[str, ...]] = ()
    citation: ClassVar[str | None] = None

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments listed in ``config_keys`` (for model cards)."""
        return {key: _describe(getattr(self, key)) for key in self.config_keys}


class Loss(BaseLoss):
    """A training objective for a SentenceTransformer: ``forward(sentence_features, labels)``.

    Args:
        model: The model being trained.
    """

    def __init__(self, model: EmbeddingModel) -> None:
        super().__init__(model)

    @abstractmethod
    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Compute the loss of one batch.

        Args:
            sentence_features: One tokenized batch per text column, each with ``input_ids`` ``(batch, seq)``….
            labels: ``(batch,)`` (or ``(batch, k)``) labels, or None for label-free losses.

        Returns:
            A scalar tensor.
        """


def _describe(value: Any) -> Any:
    """Make a config value readable in a model card: functions and modules by name."""
    if isinstance(value, (str, int, float, bool, type(None), list, tuple, dict)):
        return value
    if isinstance(value, Enum):
        return value.value
    name = getattr(value, "__qualname__", None) or type(value).__name__
    module = getattr(value, "__module__", "")
    return f"{module}.{name}" if module else name
