"""DenoisingAutoEncoderDataset: (noisy sentence, sentence) pairs for TSDAE training."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from functools import cache

import numpy as np
from torch.utils.data import Dataset

from embedforge.readers.input_example import InputExample

_PLAIN_TEXT = re.compile(r"[\w\s]*")
"""Text that nltk's Treebank tokenizer splits on whitespace alone (but for the contractions below)."""

# nltk's word tokenizer splits these words in two (MacIntyre contractions) and its detokenizer joins the two parts
# again wherever they end up adjacent; only the ones made of word characters can occur in plain text.
_CONTRACTIONS = ("can|not", "gim|me", "gon|na", "got|ta", "lem|me", "wan|na")
_SPLIT = [re.compile(rf"(?i)\b({first})({second})(?=\s)") for first, second in (c.split("|") for c in _CONTRACTIONS)]
_JOIN = [re.compile(rf"(?i)\b({first})\s({second})(?=\s)") for first, second in (c.split("|") for c in _CONTRACTIONS)]


@cache
def _nltk_available() -> bool:
    return importlib.util.find_spec("nltk") is not None


def _plain_tokenize(text: str) -> list[str]:
    """Split plain text (word characters and whitespace) exactly as ``nltk.word_tokenize`` does."""
    padded = f" {text} "
    for pattern in _SPLIT:
        padded = pattern.sub(r" \1 \2 ", padded)
    return padded.split()


def _plain_detokenize(words: list[str]) -> str:
    """Join plain words exactly as nltk's ``TreebankWordDetokenizer`` does."""
    text = f" {' '.join(words)} "
    for pattern in _JOIN:
        text = pattern.sub(r"\1\2", text)
    return text.strip()


def _words_and_joiner(text: str) -> tuple[list[str], Callable[[list[str]], str]]:
    """Return the words of ``text`` and the function that joins words back, as nltk's Treebank tools do.

    Plain text (word characters and whitespace) is handled here, with the same result as nltk and without its
    data files; other text goes to nltk.

    Raises:
        ImportError: If ``text`` is not plain and nltk is not installed.
    """
    if _PLAIN_TEXT.fullmatch(text) is not None:
        return _plain_tokenize(text), _plain_detokenize
    if not _nltk_available():
        raise ImportError(
            "DenoisingAutoEncoderDataset.delete needs nltk to split text with punctuation into words as "
            f"sentence-transformers does, and nltk is not installed (text: {text[:80]!r}). Install it with "
            "`pip install nltk` (and its 'punkt_tab' data), or pass your own noise_fn."
        )
    from nltk import word_tokenize
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    return word_tokenize(text), TreebankWordDetokenizer().detokenize


class DenoisingAutoEncoderDataset(Dataset[InputExample]):
    """Yields ``InputExample(texts=[noise_fn(sentence), sentence])`` for DenoisingAutoEncoderLoss (TSDAE).

    The loss's decoder learns to rebuild each sentence from the embedding of its noisy version. The default noise,
    :meth:`delete`, drops each word with probability 0.6, as in sentence-transformers, which splits and joins words
    with nltk. Text made only of word characters and whitespace is split and joined here, with the same result and
    without nltk; other text (punctuation, quotes...) needs nltk and its 'punkt_tab' data, and raises ImportError
    when nltk is missing. A custom ``noise_fn`` needs no nltk.

    Args:
        sentences: The sentences.
        noise_fn: Maps a sentence to its noisy version; None uses :meth:`delete` with its default ratio.
    """

    def __init__(self, sentences: list[str], noise_fn: Callable[[str], str] | None = None) -> None:
        self.sentences = sentences
        self.noise_fn: Callable[[str], str] = noise_fn if noise_fn is not None else DenoisingAutoEncoderDataset.delete

    def __getitem__(self, item: int) -> InputExample:
        sentence = self.sentences[item]
        return InputExample(texts=[self.noise_fn(sentence), sentence])

    def __len__(self) -> int:
        return len(self.sentences)

    @staticmethod
    def delete(text: str, del_ratio: float = 0.6) -> str:
        """Delete each word of ``text`` with probability ``del_ratio``, keeping at least one word.

        Randomness comes from ``numpy.random``, drawn as sentence-transformers does (one uniform number per word,
        then one choice if all were deleted), so the same seed deletes the same words.

        Args:
            text: The sentence.
            del_ratio: The probability of deleting each word.

        Returns:
            The remaining words, detokenized; ``text`` itself if it has no words.

        Raises:
            ImportError: If ``text`` has punctuation and nltk is not installed (see the class docstring).
        """
        words, detokenize = _words_and_joiner(text)
        n = len(words)
        if n == 0:
            return text
        keep = np.random.rand(n) > del_ratio
        if not keep.any():
            keep[np.random.choice(n)] = True  # keep at least one word
        return detokenize([word for word, kept in zip(words, keep, strict=True) if kept])
