"""Shared behaviour of the vocabulary-lookup tokenizers (whitespace and phrase)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from embedforge.models.tokenizer.stop_words import ENGLISH_STOP_WORDS
from embedforge.models.tokenizer.word import WordTokenizer


class VocabTokenizer(WordTokenizer):
    """A :class:`WordTokenizer` that looks words up in a fixed vocabulary and drops stop words.

    Args:
        vocab: The words; the position of a word is its index.
        stop_words: Words that are never emitted.
        do_lower_case: Lower-case the text before splitting (subclasses decide whether they honour it).

    Class attributes:
        config_file_name: File in the module folder that holds the tokenizer's config and vocabulary.
    """

    config_file_name: ClassVar[str]

    def __init__(
        self,
        vocab: Iterable[str] = (),
        stop_words: Iterable[str] = ENGLISH_STOP_WORDS,
        do_lower_case: bool = False,
    ) -> None:
        self.stop_words = set(stop_words)
        self.do_lower_case = do_lower_case
        self.vocab: list[str] = []
        self.word2idx: dict[str, int] = {}
        self.set_vocab(vocab)

    def set_vocab(self, vocab: Iterable[str]) -> None:
        """Replace the vocabulary; a word listed twice maps to its last position."""
        self.vocab = list(vocab)
        self.word2idx = {word: index for index, word in enumerate(self.vocab)}

    def get_vocab(self) -> list[str]:
        """Return the vocabulary, the word at position ``i`` having index ``i``."""
        return self.vocab

    def _index_of(self, candidates: Sequence[tuple[str, bool]]) -> int | None:
        """Look up the spellings of one word in order; a stop word ends the search.

        Args:
            candidates: ``(spelling, must_be_non_empty)`` pairs, tried in order.

        Returns:
            The index of the first spelling found in the vocabulary, or None if the word is dropped.
        """
        for spelling, must_be_non_empty in candidates:
            if spelling in self.stop_words:
                return None
            if spelling in self.word2idx and (spelling or not must_be_non_empty):
                return self.word2idx[spelling]
        return None

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments written to ``config_file_name``.

        The full vocabulary list is written (sentence-transformers writes it de-duplicated, which shifts the
        indices of a vocabulary with repeated words); stop words are sorted so that files are reproducible.
        """
        return {"vocab": self.vocab, "stop_words": sorted(self.stop_words), "do_lower_case": self.do_lower_case}

    def save(self, output_path: str | Path) -> None:
        """Write :meth:`get_config` as JSON into the folder ``output_path``."""
        with open(Path(output_path) / self.config_file_name, "w", encoding="utf-8") as handle:
            json.dump(self.get_config(), handle)

    @classmethod
    def load(cls, input_path: str | Path) -> VocabTokenizer:
        """Build the tokenizer from ``config_file_name`` in the folder ``input_path``."""
        with open(Path(input_path) / cls.config_file_name, encoding="utf-8") as handle:
            return cls(**json.load(handle))
