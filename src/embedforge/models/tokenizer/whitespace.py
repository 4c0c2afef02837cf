"""WhitespaceTokenizer: split on white space, strip punctuation, look words up in a vocabulary."""

from __future__ import annotations

import string
from typing import Any, ClassVar

from embedforge.models.tokenizer.vocab import VocabTokenizer
from embedforge.models.tokenizer.word import ST_TOKENIZER_PACKAGE


class WhitespaceTokenizer(VocabTokenizer):
    """Splits a text on white space and maps each word to its vocabulary index.

    A word is looked up as written, then with surrounding punctuation stripped, then stripped and lower-cased;
    the first spelling that is a stop word drops the word, the first that is in the vocabulary gives its index,
    and a word found in neither is dropped.

    Args:
        vocab: The words; the position of a word is its index.
        stop_words: Words that are never emitted (default: ``ENGLISH_STOP_WORDS``).
        do_lower_case: Lower-case the whole text before splitting.

    Example:
        >>> WhitespaceTokenizer(["PAD", "dog", "runs"]).tokenize("The dog runs!")
        [1, 2]
    """

    st_name: ClassVar[str] = f"{ST_TOKENIZER_PACKAGE}.whitespace.WhitespaceTokenizer"
    config_file_name: ClassVar[str] = "whitespacetokenizer_config.json"

    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        """Return the vocabulary indices of the kept words of ``text``; ``kwargs`` are ignored."""
        del kwargs
        if self.do_lower_case:
            text = text.lower()
        indices = []
        for word in text.split():
            stripped = word.strip(string.punctuation)
            index = self._index_of(((word, False), (stripped, True), (stripped.lower(), False)))
            if index is not None:
                indices.append(index)
        return indices
