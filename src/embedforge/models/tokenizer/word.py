"""The interface of the word-level tokenizers used by :class:`~embedforge.models.WordEmbeddings`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

ST_TOKENIZER_PACKAGE = "sentence_transformers.sentence_transformer.modules.tokenizer"
"""The package under which sentence-transformers 6.2 names its word tokenizers in saved configs."""


class WordTokenizer(ABC):
    """Maps a text to a list of vocabulary indices, one per kept word.

    Subclasses save themselves into a module folder next to the embedding weights and are found again on load
    through ``st_name``, the dotted class path that sentence-transformers writes as ``tokenizer_class`` in
    ``wordembedding_config.json``.

    Class attributes:
        st_name: The ``tokenizer_class`` value sentence-transformers 6.2 writes for this tokenizer.
    """

    st_name: ClassVar[str]

    @abstractmethod
    def set_vocab(self, vocab: Iterable[str]) -> None:
        """Replace the vocabulary; the position of a word in ``vocab`` is its index."""

    @abstractmethod
    def get_vocab(self) -> list[str]:
        """Return the vocabulary, the word at position ``i`` having index ``i``."""

    @abstractmethod
    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        """Return the vocabulary indices of the words of ``text`` that are kept.

        Args:
            text: One text.
            **kwargs: Tokenizer-specific options.

        Returns:
            Indices into the vocabulary (and so into the embedding matrix), in text order.
        """

    @abstractmethod
    def save(self, output_path: str | Path) -> None:
        """Write the tokenizer's files into the folder ``output_path``."""

    @classmethod
    @abstractmethod
    def load(cls, input_path: str | Path) -> WordTokenizer:
        """Read a tokenizer written by :meth:`save` from the folder ``input_path``."""


def __getattr__(name: str) -> object:
    """``TransformersTokenizerWrapper`` here too, where sentence-transformers defines it.

    Imported on first use: its own module imports this one.
    """
    if name == "TransformersTokenizerWrapper":
        from embedforge.models.tokenizer.transformers_wrapper import TransformersTokenizerWrapper

        return TransformersTokenizerWrapper
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
