"""PhraseTokenizer: NLTK word splitting plus merging of multi-word phrases found in the vocabulary."""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any, ClassVar

from embedforge.models.tokenizer.stop_words import ENGLISH_STOP_WORDS
from embedforge.models.tokenizer.vocab import VocabTokenizer
from embedforge.models.tokenizer.word import ST_TOKENIZER_PACKAGE


def _nltk_word_tokenize(text: str) -> list[str]:
    """Split ``text`` into words with NLTK's Treebank rules (no sentence splitting, so no NLTK data needed)."""
    try:
        from nltk import word_tokenize
    except ImportError as error:
        raise ImportError(
            "PhraseTokenizer.tokenize needs the 'nltk' package, which is not installed. Install it with "
            "`pip install nltk`, or use WhitespaceTokenizer."
        ) from error
    return word_tokenize(text, preserve_line=True)


class PhraseTokenizer(VocabTokenizer):
    """Tokenizes with NLTK and merges phrases that the vocabulary holds (``New York`` → ``New_York``).

    Vocabulary entries that contain ``ngram_separator`` (but not two in a row) and have at most
    ``max_ngram_length`` parts are phrases. Longer phrases are merged first. Each word or phrase is then looked
    up as written, lower-cased, then lower-cased with punctuation stripped, as in :class:`WhitespaceTokenizer`.

    Args:
        vocab: The words and phrases; the position of an entry is its index.
        stop_words: Words that are never emitted (default: ``ENGLISH_STOP_WORDS``).
        do_lower_case: Saved with the tokenizer but, as in sentence-transformers, not applied.
        ngram_separator: The character joining the words of a phrase in the vocabulary; None disables phrases.
        max_ngram_length: Longest phrase, in words, that is merged.
    """

    st_name: ClassVar[str] = f"{ST_TOKENIZER_PACKAGE}.phrase.PhraseTokenizer"
    config_file_name: ClassVar[str] = "phrasetokenizer_config.json"

    def __init__(
        self,
        vocab: Iterable[str] = (),
        stop_words: Iterable[str] = ENGLISH_STOP_WORDS,
        do_lower_case: bool = False,
        ngram_separator: str | None = "_",
        max_ngram_length: int = 5,
    ) -> None:
        self.ngram_separator = ngram_separator
        self.max_ngram_length = max_ngram_length
        self.ngram_lookup: set[str] = set()
        self.ngram_lengths: set[int] = set()
        super().__init__(vocab, stop_words=stop_words, do_lower_case=do_lower_case)

    def set_vocab(self, vocab: Iterable[str]) -> None:
        """Replace the vocabulary and find the phrases in it."""
        super().set_vocab(vocab)
        separator = self.ngram_separator
        self.ngram_lookup = set()
        self.ngram_lengths = set()
        for word in self.vocab:
            if not separator or separator not in word or separator + separator in word:
                continue
            length = word.count(separator) + 1
            if length <= self.max_ngram_length:
                self.ngram_lookup.add(word)
                self.ngram_lengths.add(length)

    def _merge_phrases(self, tokens: list[str]) -> list[str]:
        """Replace runs of words that form a vocabulary phrase by the phrase, longest phrases first."""
        separator = self.ngram_separator or ""
        for length in sorted(self.ngram_lengths, reverse=True):
            start = 0
            while start <= len(tokens) - length:
                ngram = separator.join(tokens[start : start + length])
                if ngram in self.ngram_lookup:
                    tokens[start : start + length] = [ngram]
                elif ngram.lower() in self.ngram_lookup:
                    tokens[start : start + length] = [ngram.lower()]
                start += 1
        return tokens

    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        """Return the vocabulary indices of the kept words and phrases of ``text``; ``kwargs`` are ignored.

        Raises:
            ImportError: If ``nltk`` is not installed.
        """
        del kwargs
        indices = []
        for word in self._merge_phrases(_nltk_word_tokenize(text)):
            lowered = word.lower()
            index = self._index_of(((word, False), (lowered, False), (lowered.strip(string.punctuation), True)))
            if index is not None:
                indices.append(index)
        return indices

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments written to ``phrasetokenizer_config.json``."""
        return {
            **super().get_config(),
            "ngram_separator": self.ngram_separator,
            "max_ngram_length": self.max_ngram_length,
        }
