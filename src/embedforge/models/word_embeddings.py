"""WordEmbeddings: a static word-embedding lookup (GloVe, word2vec…) with a word-level tokenizer."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from embedforge.models.base import Features, InputModule, LoadContext, load_state_dict, read_json
from embedforge.models.tokenizer.registry import resolve_tokenizer_class
from embedforge.models.tokenizer.transformers_wrapper import TransformersTokenizerWrapper
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.tokenizer.word import WordTokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

PADDING_TOKEN = "PADDING_TOKEN"
"""Vocabulary entry 0 (an all-zero vector) added by :meth:`WordEmbeddings.from_text_file`."""


def _as_word_tokenizer(tokenizer: WordTokenizer | PreTrainedTokenizerBase) -> WordTokenizer:
    """Return ``tokenizer`` itself, or a Hugging Face tokenizer wrapped as a :class:`WordTokenizer`."""
    if isinstance(tokenizer, WordTokenizer):
        return tokenizer
    from transformers import PreTrainedTokenizerBase

    if isinstance(tokenizer, PreTrainedTokenizerBase):
        return TransformersTokenizerWrapper(tokenizer)
    raise ValueError(
        f"WordEmbeddings expects a WordTokenizer (e.g. WhitespaceTokenizer) or a Hugging Face tokenizer, "
        f"got {type(tokenizer).__name__}."
    )


def _open_text(path: Path) -> IO[str]:
    """Open a UTF-8 text file, gzip-compressed when its name ends with ``.gz``."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf8")
    return open(path, encoding="utf8")


def read_embeddings_text(
    path: Path, item_separator: str = " ", max_vocab_size: int | None = None
) -> tuple[list[str], list[list[float]]]:
    """Read a GloVe / word2vec text file: one ``word v1 v2 …`` line per word.

    A leading ``count dim`` header (word2vec) is skipped. Entry 0 is :data:`PADDING_TOKEN` with a zero vector;
    lines whose length differs from the first vector line are skipped with an error log.

    Args:
        path: The file (``.gz`` files are decompressed).
        item_separator: The separator between the word and the values.
        max_vocab_size: Stop once the vocabulary, padding included, is larger than this; None or 0 for no limit.

    Returns:
        The vocabulary and one vector per word, in file order.
    """
    vocab: list[str] = []
    vectors: list[list[float]] = []
    with _open_text(path) as handle:
        for line in handle:
            parts = line.rstrip().split(item_separator)
            if not vocab and len(parts) == 2:
                continue
            if not vocab:
                vocab.append(PADDING_TOKEN)
                vectors.append([0.0] * (len(parts) - 1))
            if len(parts) - 1 != len(vectors[0]):
                logger.error("A line of %s has %d values, not %d; skipped.", path, len(parts) - 1, len(vectors[0]))
                continue
            vocab.append(parts[0])
            vectors.append([float(value) for value in parts[1:]])
            if max_vocab_size is not None and 0 < max_vocab_size < len(vocab):
                break
    return vocab, vectors


class WordEmbeddings(InputModule):
    """Looks up one static vector per word.

    :meth:`tokenize` maps texts to word indices with a :class:`~embedforge.models.tokenizer.WordTokenizer` and
    writes ``input_ids``, ``attention_mask`` ``(batch, seq_len)`` (0-padded to the longest text, at least 1) and
    ``sentence_lengths`` ``(batch,)``; :meth:`forward` writes ``token_embeddings`` ``(batch, seq_len, dim)`` from
    the embedding matrix ``emb_layer.weight`` ``(vocab_size, dim)``. Saved as ``wordembedding_config.json``,
    ``model.safetensors`` and the tokenizer's own files.

    Args:
        tokenizer: A word tokenizer, or a Hugging Face tokenizer (wrapped in TransformersTokenizerWrapper).
        embedding_weights: The embedding matrix ``(vocab_size, dim)`` (tensor, array or nested lists).
        update_embeddings: Whether training updates the embeddings.
        max_seq_length: Words kept per text.
    """

    config_file_name: ClassVar[str] = "wordembedding_config.json"
    config_keys: ClassVar[tuple[str, ...]] = ("tokenizer_class", "update_embeddings", "max_seq_length")

    def __init__(
        self,
        tokenizer: WordTokenizer | PreTrainedTokenizerBase,
        embedding_weights: torch.Tensor | np.ndarray | Sequence[Sequence[float]],
        update_embeddings: bool = False,
        max_seq_length: int = 1000000,
    ) -> None:
        super().__init__()
        if isinstance(embedding_weights, torch.Tensor):
            weights = embedding_weights.detach()
        else:
            weights = torch.as_tensor(np.asarray(embedding_weights))
        if weights.ndim != 2:
            raise ValueError(
                f"WordEmbeddings expects embedding_weights of shape (vocab_size, dim), got {tuple(weights.shape)}."
            )
        num_embeddings, self.embeddings_dimension = weights.shape
        self.emb_layer = nn.Embedding(num_embeddings, self.embeddings_dimension)
        with torch.no_grad():
            self.emb_layer.weight.copy_(weights)
        self.emb_layer.weight.requires_grad = update_embeddings
        self.tokenizer = _as_word_tokenizer(tokenizer)
        self.update_embeddings = update_embeddings
        self.max_seq_length = max_seq_length

    @property
    def max_seq_length(self) -> int:
        """Words kept per text; later words are dropped."""
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self._max_seq_length = value

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> Features:
        """Map texts to padded word indices.

        Args:
            texts: The texts of one batch.
            **kwargs: Passed to the word tokenizer.

        Returns:
            ``input_ids`` and ``attention_mask`` ``(batch, seq_len)``, ``sentence_lengths`` ``(batch,)``.
        """
        token_lists = [self.tokenizer.tokenize(text, **kwargs)[: self.max_seq_length] for text in texts]
        lengths = [len(tokens) for tokens in token_lists]
        input_ids = torch.zeros((len(texts), max([1, *lengths])), dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, tokens in enumerate(token_lists):
            input_ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            attention_mask[row, : len(tokens)] = 1
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "sentence_lengths": torch.tensor(lengths, dtype=torch.long),
        }

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Add ``token_embeddings`` ``(batch, seq_len, dim)`` for ``input_ids`` ``(batch, seq_len)``."""
        features["token_embeddings"] = self.emb_layer(features["input_ids"])
        return features

    def get_embedding_dimension(self) -> int:
        """The size ``dim`` of the word vectors."""
        return self.embeddings_dimension

    def get_config_dict(self) -> dict[str, Any]:
        """The saved config; ``tokenizer_class`` is the dotted name sentence-transformers 6.2 writes."""
        return {
            "tokenizer_class": type(self.tokenizer).st_name,
            "update_embeddings": self.update_embeddings,
            "max_seq_length": self.max_seq_length,
        }

    def save(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Write the config, the embedding matrix and the tokenizer's files into ``output_path``."""
        path = Path(output_path)
        path.mkdir(parents=True, exist_ok=True)
        self.save_config(path)
        self.save_weights(path, safe_serialization=safe_serialization)
        self.tokenizer.save(path)

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> WordEmbeddings:
        """Load the tokenizer named by ``tokenizer_class`` (resolved by class name, never imported) and weights.

        Raises:
            ValueError: If the config or the weights are missing, or the tokenizer class is unknown.
        """
        del context
        config = read_json(path / cls.config_file_name)
        tokenizer_name = config.pop("tokenizer_class", None)
        state_dict = load_state_dict(path)
        if tokenizer_name is None or state_dict is None:
            raise ValueError(
                f"WordEmbeddings expects {cls.config_file_name} with a tokenizer_class and model.safetensors or "
                f"pytorch_model.bin in {path}; found config keys {sorted(config)} and "
                f"{'no' if state_dict is None else 'a'} weights file. Re-save the module."
            )
        tokenizer = resolve_tokenizer_class(tokenizer_name).load(path)
        return cls(tokenizer=tokenizer, embedding_weights=state_dict["emb_layer.weight"], **config)

    @classmethod
    def from_text_file(
        cls,
        embeddings_file_path: str | Path,
        update_embeddings: bool = False,
        item_separator: str = " ",
        tokenizer: WordTokenizer | None = None,
        max_vocab_size: int | None = None,
    ) -> WordEmbeddings:
        """Build the module from a GloVe / word2vec text file (see :func:`read_embeddings_text`).

        Args:
            embeddings_file_path: Local file, plain or ``.gz``.
            update_embeddings: Whether training updates the embeddings.
            item_separator: Separator between the word and its values.
            tokenizer: Word tokenizer that receives the file's vocabulary; default a WhitespaceTokenizer.
            max_vocab_size: Stop reading once the vocabulary (padding entry included) exceeds this size.

        Raises:
            FileNotFoundError: If the file does not exist (nothing is downloaded).
            ValueError: If the file holds no vectors.
        """
        path = Path(embeddings_file_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Embeddings file not found: {path}. embedforge does not download embedding files; download it "
                "(sentence-transformers fetched bare names from public.ukp.informatik.tu-darmstadt.de/reimers/"
                "embeddings/) and pass its local path."
            )
        vocab, vectors = read_embeddings_text(path, item_separator, max_vocab_size)
        if not vocab:
            raise ValueError(f"No embedding vectors found in {path}; expected lines of 'word v1 v2 ...'.")
        tokenizer = WhitespaceTokenizer() if tokenizer is None else tokenizer
        tokenizer.set_vocab(vocab)
        weights = torch.tensor(vectors, dtype=torch.float32)
        return cls(tokenizer=tokenizer, embedding_weights=weights, update_embeddings=update_embeddings)
