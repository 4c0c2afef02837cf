"""BoW: bag-of-words sentence embeddings (term frequencies, optionally tf-idf weighted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from embedforge.models.base import Features, InputModule
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.word_weights import lookup_word_weights


class BoW(InputModule):
    """Turns each text into a ``(vocab_size,)`` vector of (weighted) word counts: the sentence embedding.

    Words are found with a :class:`~embedforge.models.tokenizer.WhitespaceTokenizer` (no stop words, case kept).
    :meth:`tokenize` already writes ``sentence_embedding`` ``(batch, vocab_size)``; :meth:`forward` passes the
    features through. The module has no parameters, so only its config is saved, in its own folder.

    Args:
        vocab: The words; repeated words are kept once, at their first position.
        word_weights: Weight of each word (e.g. IDF); a word missing here is looked up lower-cased.
        unknown_word_weight: Weight of vocabulary words found in neither form.
        cumulative_term_frequency: Add a word's weight once per occurrence (True) or set it once (False).

    Example:
        >>> BoW(["dog", "runs"]).tokenize(["dog runs dog"])["sentence_embedding"]
        tensor([[2., 1.]])
    """

    save_in_root: ClassVar[bool] = False
    config_keys: ClassVar[tuple[str, ...]] = (
        "vocab",
        "word_weights",
        "unknown_word_weight",
        "cumulative_term_frequency",
    )

    def __init__(
        self,
        vocab: Sequence[str],
        word_weights: dict[str, float] | None = None,
        unknown_word_weight: float = 1,
        cumulative_term_frequency: bool = True,
    ) -> None:
        super().__init__()
        self.vocab = list(dict.fromkeys(vocab))
        self.word_weights = {} if word_weights is None else word_weights
        self.unknown_word_weight = unknown_word_weight
        self.cumulative_term_frequency = cumulative_term_frequency
        self.weights = lookup_word_weights(self.vocab, self.word_weights, unknown_word_weight)
        self._weights_tensor = torch.tensor(self.weights, dtype=torch.float32)
        self.tokenizer = WhitespaceTokenizer(self.vocab, stop_words=(), do_lower_case=False)
        self.sentence_embedding_dimension = len(self.vocab)

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> Features:
        """Embed a batch of texts.

        Args:
            texts: The texts of one batch.
            **kwargs: Passed to the tokenizer (which ignores them).

        Returns:
            ``{"sentence_embedding": tensor (batch, vocab_size)}``.
        """
        return self.get_sentence_features([self.tokenizer.tokenize(text, **kwargs) for text in texts])

    def get_sentence_features(self, tokenized_texts: Sequence[Sequence[int]], pad_seq_length: int = 0) -> Features:
        """Build the bag-of-words vectors of already tokenized texts.

        Args:
            tokenized_texts: Vocabulary indices of each text.
            pad_seq_length: Ignored; kept for sentence-transformers compatibility.

        Returns:
            ``{"sentence_embedding": tensor (batch, vocab_size)}``.
        """
        del pad_seq_length
        vectors = torch.zeros((len(tokenized_texts), self.sentence_embedding_dimension), dtype=torch.float32)
        for row, tokens in enumerate(tokenized_texts):
            ids = torch.tensor(tokens, dtype=torch.long)
            if self.cumulative_term_frequency:
                vectors[row].index_add_(0, ids, self._weights_tensor[ids])
            else:
                vectors[row, ids] = self._weights_tensor[ids]
        return {"sentence_embedding": vectors}

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Return ``features`` unchanged: :meth:`tokenize` already wrote ``sentence_embedding``."""
        return features

    @property
    def max_seq_length(self) -> int | None:
        """None: BoW never truncates a text."""
        return None

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        raise AttributeError(
            f"BoW has no max_seq_length to set (got {value}): it counts every word of a text. "
            "Truncate the texts before encoding instead."
        )

    def get_sentence_embedding_dimension(self) -> int:
        """The vocabulary size."""
        return self.sentence_embedding_dimension

    get_embedding_dimension = get_sentence_embedding_dimension
