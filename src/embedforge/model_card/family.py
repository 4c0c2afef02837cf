"""FamilyCard: the parts of a model card that differ between model families.

The renderer (:mod:`embedforge.model_card.render`) writes what every card has — front matter, architecture,
evaluation, training details, versions, citations — and asks the card data's ``family_card`` for the rest:
the Hub tags and pipeline tag, the opening paragraph, the model description lines and the usage snippet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from embedforge.model_card.data import SentenceTransformerModelCardData


class FamilyCard(ABC):
    """One model family's sections of the card.

    Class attributes:
        standard_tags: Hub tags every card of the family carries, first.
        model_type_name: The family in words (``"Sentence Transformer"``, ``"Cross Encoder"``).
    """

    standard_tags: ClassVar[tuple[str, ...]]
    model_type_name: ClassVar[str]

    @abstractmethod
    def pipeline_tag(self, model: Any) -> str:
        """The Hub pipeline tag, e.g. ``sentence-similarity`` or ``text-ranking``."""

    @abstractmethod
    def introduction(self, model: Any, card_data: SentenceTransformerModelCardData, origin: str) -> str:
        """The opening paragraph; ``origin`` is e.g. ``" finetuned from [x](...) on the y dataset"`` or ``""``."""

    @abstractmethod
    def description_lines(self, model: Any) -> list[str]:
        """The family's lines of the ``Model Description`` list (lengths, output size, similarity…)."""

    @abstractmethod
    def usage_snippet(self, model: Any, card_data: SentenceTransformerModelCardData) -> list[str]:
        """The lines of the Python usage example."""

    def widget(self, texts: list[str]) -> list[dict[str, Any]] | None:
        """The Hub widget examples built from example texts, or None for no widget."""
        del texts
        return None

    def extra_metadata(self, model: Any) -> dict[str, Any]:
        """Extra front-matter keys of the family (e.g. ``model_num_labels``)."""
        del model
        return {}
