"""The SentenceTransformer sections of a model card: embedding size, similarity, an encode/similarity snippet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from embedforge.model_card.family import FamilyCard

if TYPE_CHECKING:
    from embedforge.model_card.data import SentenceTransformerModelCardData

SIMILARITY_NAMES = {
    "cosine": "Cosine Similarity",
    "dot": "Dot Product",
    "euclidean": "Euclidean Distance",
    "manhattan": "Manhattan Distance",
}
DEFAULT_EXAMPLES = ("The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.")
PLACEHOLDER_MODEL_ID = "sentence_transformers_model_id"


class SentenceTransformerCard(FamilyCard):
    """Card sections of a bi-encoder (:class:`~embedforge.SentenceTransformer`)."""

    standard_tags: ClassVar[tuple[str, ...]] = (
        "sentence-transformers",
        "sentence-similarity",
        "feature-extraction",
        "dense",
    )
    model_type_name: ClassVar[str] = "Sentence Transformer"

    def pipeline_tag(self, model: Any) -> str:
        """``sentence-similarity``."""
        return "sentence-similarity"

    def introduction(self, model: Any, card_data: SentenceTransformerModelCardData, origin: str) -> str:
        """What the model maps texts to, and what it can be used for."""
        dimension = model.get_sentence_embedding_dimension()
        space = f"a {dimension}-dimensional dense vector space" if dimension else "a dense vector space"
        return (
            f"This is a [sentence-transformers](https://www.SBERT.net) model{origin}. It maps sentences and "
            f"paragraphs to {space} and can be used for {card_data.task_name}."
        )

    def description_lines(self, model: Any) -> list[str]:
        """Sequence length, output dimensionality and similarity function."""
        length, dimension = model.max_seq_length, model.get_sentence_embedding_dimension()
        similarity = model.similarity_fn_name or "cosine"
        return [
            f"- **Maximum Sequence Length:** {f'{length} tokens' if length else 'unknown'}",
            f"- **Output Dimensionality:** {f'{dimension} dimensions' if dimension else 'unknown'}",
            f"- **Similarity Function:** {SIMILARITY_NAMES.get(similarity, similarity.replace('_', ' ').title())}",
        ]

    def usage_snippet(self, model: Any, card_data: SentenceTransformerModelCardData) -> list[str]:
        """Encode three sentences and compare them."""
        from embedforge.model_card.render import example_texts

        texts = (example_texts(card_data) or list(DEFAULT_EXAMPLES))[:3]
        dimension = model.get_sentence_embedding_dimension()
        return [
            "from sentence_transformers import SentenceTransformer",
            "",
            "# Download from the Hugging Face Hub",
            f'model = SentenceTransformer("{card_data.model_id or PLACEHOLDER_MODEL_ID}")',
            "# Run inference",
            "sentences = [",
            *(f"    {text!r}," for text in texts),
            "]",
            "embeddings = model.encode(sentences)",
            "print(embeddings.shape)",
            f"# [{len(texts)}, {dimension if dimension else 'dimension'}]",
            "",
            "# Get the similarity scores for the embeddings",
            "similarities = model.similarity(embeddings, embeddings)",
            "print(similarities.shape)",
            f"# [{len(texts)}, {len(texts)}]",
        ]

    def widget(self, texts: list[str]) -> list[dict[str, Any]] | None:
        """One source sentence compared with three others."""
        if len(texts) < 4:
            return None
        return [{"source_sentence": texts[0], "sentences": texts[1:4]}]
