"""CrossEncoderModelCardData: the model card of a cross-encoder (reranker or pair classifier)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from embedforge.model_card.data import SentenceTransformerModelCardData
from embedforge.model_card.family import FamilyCard

if TYPE_CHECKING:
    from datasets import Dataset
    from torch import nn

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (
    ("How many calories in an egg", "There are on average between 55 and 80 calories in an egg depending on its size."),
    (
        "How many calories in an egg",
        "Egg whites are very low in calories, have no fat, no cholesterol, and are loaded with protein.",
    ),
    ("How many calories in an egg", "Most of the calories in an egg come from the yellow yolk in the center."),
)
PLACEHOLDER_MODEL_ID = "cross_encoder_model_id"
RERANKING_TASK = "text reranking and semantic search"
CLASSIFICATION_TASK = "text pair classification"


class CrossEncoderCard(FamilyCard):
    """Card sections of a :class:`~embedforge.CrossEncoder`: number of labels, a predict (and rank) snippet."""

    standard_tags: ClassVar[tuple[str, ...]] = ("sentence-transformers", "cross-encoder", "reranker")
    model_type_name: ClassVar[str] = "Cross Encoder"

    def pipeline_tag(self, model: Any) -> str:
        """``text-ranking`` for one label, ``text-classification`` for several."""
        return "text-ranking" if model.num_labels == 1 else "text-classification"

    def introduction(self, model: Any, card_data: SentenceTransformerModelCardData, origin: str) -> str:
        """What the model scores, and what it can be used for."""
        task = card_data.task_name or (RERANKING_TASK if model.num_labels == 1 else CLASSIFICATION_TASK)
        return (
            f"This is a [Cross Encoder](https://www.sbert.net/docs/cross_encoder/usage/usage.html) model{origin} "
            f"using the [sentence-transformers](https://www.SBERT.net) library. It computes scores for pairs of "
            f"texts, which can be used for {task}."
        )

    def description_lines(self, model: Any) -> list[str]:
        """Sequence length and number of output labels."""
        length = model.max_seq_length
        return [
            f"- **Maximum Sequence Length:** {f'{length} tokens' if length else 'unknown'}",
            f"- **Number of Output Labels:** {model.num_labels} label{'s' if model.num_labels != 1 else ''}",
        ]

    def usage_snippet(self, model: Any, card_data: SentenceTransformerModelCardData) -> list[str]:
        """Score pairs with ``predict``; with one label, also rank documents with ``rank``."""
        pairs = list(getattr(card_data, "usage_examples", None) or DEFAULT_PAIRS)[:5]
        num_labels = model.num_labels
        shape = f"({len(pairs)}, {num_labels})" if num_labels > 1 else f"({len(pairs)},)"
        lines = [
            "from sentence_transformers import CrossEncoder",
            "",
            "# Download from the Hugging Face Hub",
            f'model = CrossEncoder("{card_data.model_id or PLACEHOLDER_MODEL_ID}")',
            "# Get scores for pairs of texts",
            "pairs = [",
            *(f"    [{query!r}, {document!r}]," for query, document in pairs),
            "]",
            "scores = model.predict(pairs)",
            "print(scores.shape)",
            f"# {shape}",
        ]
        if num_labels == 1:
            lines += [
                "",
                "# Or rank different texts based on similarity to a single text",
                "ranks = model.rank(",
                f"    {pairs[0][0]!r},",
                "    [",
                *(f"        {document!r}," for _, document in pairs),
                "    ]",
                ")",
                "# [{'corpus_id': ..., 'score': ...}, {'corpus_id': ..., 'score': ...}, ...]",
            ]
        return lines

    def extra_metadata(self, model: Any) -> dict[str, Any]:
        """``model_num_labels``."""
        return {"model_num_labels": model.num_labels}


@dataclass
class CrossEncoderModelCardData(SentenceTransformerModelCardData):
    """Data for the model card (``README.md``) of a :class:`~embedforge.CrossEncoder`.

    The same fields as :class:`~embedforge.SentenceTransformerModelCardData`; ``task_name`` defaults to
    "text reranking and semantic search" for one label and "text pair classification" otherwise, and the tags
    start with ``sentence-transformers``, ``cross-encoder``, ``reranker``. The usage snippet shows up to five
    (query, document) pairs from the first two text columns of the training data.

    Example:
        >>> CrossEncoderModelCardData(language="en").task_name is None
        True
    """

    family_card: ClassVar[FamilyCard] = CrossEncoderCard()

    task_name: str | None = None  # type: ignore[assignment]
    usage_examples: list[tuple[str, str]] = field(default_factory=list, init=False)

    def set_training_data(
        self,
        train_datasets: Mapping[str, Dataset] | None,
        eval_datasets: Mapping[str, Dataset] | None,
        losses: Mapping[str, nn.Module],
        tokenize: Callable[[list[str]], dict[str, Any]] | None = None,
    ) -> None:
        """Describe the datasets and losses, and take usage examples from the first training dataset."""
        super().set_training_data(train_datasets, eval_datasets, losses, tokenize)
        if train_datasets:
            self.usage_examples = usage_pairs(next(iter(train_datasets.values())))


def usage_pairs(dataset: Any, count: int = 5) -> list[tuple[str, str]]:
    """Up to ``count`` (query, document) pairs from the first two text columns of ``dataset``.

    When the second column holds lists of documents, the first row's query is paired with its documents.
    """
    from datasets import Dataset

    from embedforge.data.collator import LABEL_COLUMNS, RESERVED_COLUMNS

    if not isinstance(dataset, Dataset) or len(dataset) == 0:
        return []
    head = dataset[:count]
    columns = [name for name in head if name not in LABEL_COLUMNS and name not in RESERVED_COLUMNS]
    if len(columns) < 2:
        return []
    queries, documents = head[columns[0]], head[columns[1]]
    if not isinstance(queries[0], str):
        return []
    if isinstance(documents[0], list):
        return [(queries[0], str(document)) for document in documents[0][:count]]
    return [(query, str(document)) for query, document in zip(queries, documents, strict=True)]


__all__ = ["CrossEncoderModelCardData"]
