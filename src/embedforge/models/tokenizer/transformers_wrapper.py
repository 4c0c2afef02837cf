"""TransformersTokenizerWrapper: a Hugging Face tokenizer used as a word tokenizer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from embedforge.models.tokenizer.word import ST_TOKENIZER_PACKAGE, WordTokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class TransformersTokenizerWrapper(WordTokenizer):
    """Lets :class:`~embedforge.models.WordEmbeddings` use a Hugging Face tokenizer's ids as word indices.

    The ids include the tokenizer's special tokens (e.g. ``[CLS]`` and ``[SEP]``), as in sentence-transformers.
    The tokenizer is saved with ``save_pretrained`` into the module folder.

    Args:
        tokenizer: A ``transformers`` tokenizer.
    """

    st_name: ClassVar[str] = f"{ST_TOKENIZER_PACKAGE}.word.TransformersTokenizerWrapper"

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer

    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        """Return the token ids of ``text``; ``kwargs`` are passed to the Hugging Face tokenizer call."""
        return list(self.tokenizer(text, **kwargs)["input_ids"])

    def set_vocab(self, vocab: Iterable[str]) -> None:
        """Do nothing: the vocabulary belongs to the Hugging Face tokenizer."""
        del vocab

    def get_vocab(self) -> list[str]:
        """Return the Hugging Face tokenizer's tokens ordered by id."""
        token_to_id = self.tokenizer.get_vocab()
        return sorted(token_to_id, key=token_to_id.__getitem__)

    def save(self, output_path: str | Path) -> None:
        """Write the Hugging Face tokenizer files into ``output_path``."""
        self.tokenizer.save_pretrained(str(output_path))

    @classmethod
    def load(cls, input_path: str | Path) -> TransformersTokenizerWrapper:
        """Load the (fast) Hugging Face tokenizer saved in ``input_path``."""
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(input_path), use_fast=True))
