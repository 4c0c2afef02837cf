"""Word-level tokenizers for :class:`~embedforge.models.WordEmbeddings` and :class:`~embedforge.models.BoW`."""

from __future__ import annotations

from embedforge.models.tokenizer.phrase import PhraseTokenizer
from embedforge.models.tokenizer.registry import TOKENIZER_CLASSES, resolve_tokenizer_class
from embedforge.models.tokenizer.stop_words import ENGLISH_STOP_WORDS
from embedforge.models.tokenizer.transformers_wrapper import TransformersTokenizerWrapper
from embedforge.models.tokenizer.vocab import VocabTokenizer
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.tokenizer.word import WordTokenizer

__all__ = [
    "ENGLISH_STOP_WORDS",
    "TOKENIZER_CLASSES",
    "PhraseTokenizer",
    "TransformersTokenizerWrapper",
    "VocabTokenizer",
    "WhitespaceTokenizer",
    "WordTokenizer",
    "resolve_tokenizer_class",
]
