"""``tokenizer_class`` names in ``wordembedding_config.json`` ↔ embedforge word tokenizer classes.

sentence-transformers stores the tokenizer as a dotted class path and imports it. embedforge never imports a
path read from a file: a name under ``sentence_transformers.`` or ``embedforge.`` resolves by its last part,
the class name, which covers every historical path (e.g. ``sentence_transformers.models.tokenizer.
WhitespaceTokenizer.WhitespaceTokenizer``).
"""

from __future__ import annotations

from embedforge.models.tokenizer.phrase import PhraseTokenizer
from embedforge.models.tokenizer.transformers_wrapper import TransformersTokenizerWrapper
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.tokenizer.word import WordTokenizer

TOKENIZER_CLASSES: dict[str, type[WordTokenizer]] = {
    cls.__name__: cls for cls in (WhitespaceTokenizer, PhraseTokenizer, TransformersTokenizerWrapper)
}
_TRUSTED_PREFIXES = ("sentence_transformers", "embedforge")


def resolve_tokenizer_class(name: str) -> type[WordTokenizer]:
    """Return the word tokenizer class for a saved ``tokenizer_class`` name.

    Args:
        name: The dotted path found in ``wordembedding_config.json``.

    Raises:
        ValueError: If the name is not one of the built-in word tokenizers.
    """
    prefix, _, class_name = name.rpartition(".")
    cls = TOKENIZER_CLASSES.get(class_name)
    if cls is None or prefix.split(".")[0] not in _TRUSTED_PREFIXES:
        raise ValueError(
            f"wordembedding_config.json names the tokenizer_class {name!r}, which embedforge does not know. "
            f"Known word tokenizers (under any 'sentence_transformers.' path): {', '.join(TOKENIZER_CLASSES)}. "
            "Edit tokenizer_class to one of them, or build WordEmbeddings in code with your own WordTokenizer."
        )
    return cls
