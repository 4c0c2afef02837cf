"""StaticEmbedding: a sentence embedding as the mean of trained per-token vectors (no attention, no context)."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import PreTrainedTokenizerFast

from embedforge.models.base import WEIGHTS_PICKLE, WEIGHTS_SAFETENSORS, Features, InputModule, LoadContext
from embedforge.models.base import load_state_dict as read_state_dict

logger = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
"""The tokenizer file written next to the weights (the format of ``tokenizers.Tokenizer.save``)."""
EMBEDDING_KEY = "embedding.weight"
"""State-dict key of the embedding matrix, as sentence-transformers writes it."""
MODEL2VEC_KEYS = ("embeddings", "mapping", "weights")
"""Keys of a model2vec ``model.safetensors``: the vectors, an optional token→row mapping and per-token weights."""


class StaticEmbedding(InputModule):
    """Embeds a text as the mean of one trained vector per token (``nn.EmbeddingBag`` in ``"mean"`` mode).

    Texts are tokenized without special tokens and without padding: a batch is one flat ``input_ids`` tensor
    plus ``offsets`` marking where each text starts, which is what ``nn.EmbeddingBag`` consumes. A text with no
    tokens embeds as zeros. Saved as ``tokenizer.json`` plus ``model.safetensors`` (key ``embedding.weight``),
    the layout sentence-transformers uses, so folders load in either library; model2vec folders load too.

    Args:
        tokenizer: A fast tokenizer: a ``tokenizers.Tokenizer`` or a ``transformers.PreTrainedTokenizerFast``
            (its Rust backend is used). Padding is switched off on that tokenizer object.
        embedding_weights: Initial vectors ``(vocab_size, embedding_dim)`` (NumPy or torch); they stay trainable.
        embedding_dim: Size of randomly initialized vectors, one per tokenizer vocabulary entry; used when
            ``embedding_weights`` is None.
        **kwargs: ``base_model`` (the model the vectors were distilled from, for the model card); others are
            ignored, as in sentence-transformers.

    Raises:
        ValueError: If the tokenizer is not a fast tokenizer, or neither ``embedding_weights`` nor
            ``embedding_dim`` is given.

    Example:
        >>> from tokenizers import Tokenizer
        >>> from tokenizers.models import WordLevel
        >>> from tokenizers.pre_tokenizers import Whitespace
        >>> tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
        >>> tokenizer.pre_tokenizer = Whitespace()
        >>> static = StaticEmbedding(tokenizer, embedding_dim=8)
        >>> static(static.tokenize(["hello world", "world"]))["sentence_embedding"].shape
        torch.Size([2, 8])
    """

    def __init__(
        self,
        tokenizer: Tokenizer | PreTrainedTokenizerFast,
        embedding_weights: np.ndarray | torch.Tensor | None = None,
        embedding_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if isinstance(tokenizer, PreTrainedTokenizerFast):
            tokenizer = tokenizer.backend_tokenizer
        elif not isinstance(tokenizer, Tokenizer):
            raise ValueError(
                f"StaticEmbedding needs a fast (Rust-backed) tokenizer, got {type(tokenizer).__name__}. Load one "
                "with tokenizers.Tokenizer.from_pretrained(...) or pass a transformers PreTrainedTokenizerFast."
            )
        if embedding_weights is not None:
            if isinstance(embedding_weights, np.ndarray):
                embedding_weights = torch.from_numpy(embedding_weights)
            self.embedding = nn.EmbeddingBag.from_pretrained(embedding_weights, freeze=False)
        elif embedding_dim is not None:
            self.embedding = nn.EmbeddingBag(tokenizer.get_vocab_size(), embedding_dim)
        else:
            raise ValueError(
                "StaticEmbedding needs either embedding_weights (a (vocab_size, dim) matrix) or embedding_dim "
                "(to initialize one vector per token at random); got neither."
            )
        self.num_embeddings: int = self.embedding.num_embeddings
        self.embedding_dim: int = self.embedding.embedding_dim
        self.tokenizer: Tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.base_model: str | None = kwargs.get("base_model")

    # ------------------------------------------------------------------ inputs
    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> Features:
        """Tokenize a batch without special tokens into the flat layout ``nn.EmbeddingBag`` reads.

        Args:
            texts: The ``batch`` texts.
            **kwargs: Ignored (accepted so that routing options such as ``task`` may pass through).

        Returns:
            ``input_ids`` ``(total_tokens,)``: every text's token ids, concatenated; ``offsets`` ``(batch,)``:
            the start of each text in ``input_ids`` (``[0]`` for an empty batch). Both ``int64``.
        """
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        token_ids = [encoding.ids for encoding in encodings]
        starts = torch.tensor([0] + [len(ids) for ids in token_ids[:-1]], dtype=torch.long)
        input_ids = torch.tensor([token for ids in token_ids for token in ids], dtype=torch.long)
        return {"input_ids": input_ids, "offsets": torch.cumsum(starts, dim=0)}

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Average the token vectors of each text.

        Args:
            features: ``input_ids`` ``(total_tokens,)`` and ``offsets`` ``(batch,)`` from :meth:`tokenize`.
            **kwargs: Unused.

        Returns:
            ``features`` with ``sentence_embedding`` ``(batch, embedding_dim)`` added.
        """
        features["sentence_embedding"] = self.embedding(features["input_ids"], features["offsets"])
        return features

    @property
    def max_seq_length(self) -> int | None:
        """None: texts are never truncated by this module (sentence-transformers reports ``math.inf``)."""
        return None

    def get_sentence_embedding_dimension(self) -> int:
        """Size of the produced ``sentence_embedding``."""
        return self.embedding_dim

    get_embedding_dimension = get_sentence_embedding_dimension

    # ------------------------------------------------------------ save / load
    def save(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Write ``model.safetensors`` (or ``pytorch_model.bin``) and ``tokenizer.json``; no config file.

        Args:
            output_path: Folder to write into (created if missing).
            safe_serialization: Write safetensors (True) or a pickled state dict (False).
        """
        path = Path(output_path)
        path.mkdir(parents=True, exist_ok=True)
        self.save_weights(path, safe_serialization=safe_serialization)
        self.tokenizer.save(str(path / TOKENIZER_FILE))

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> StaticEmbedding:
        """Load a folder saved by sentence-transformers, embedforge or model2vec.

        Args:
            path: Folder holding ``tokenizer.json`` and the weights.
            context: Unused; accepted for a uniform loading interface.

        Returns:
            The module with the stored vectors.

        Raises:
            FileNotFoundError: If ``tokenizer.json`` is missing.
            ValueError: If there is no weights file, or it holds neither ST's nor model2vec's keys.
        """
        del context
        tokenizer_file = path / TOKENIZER_FILE
        if not tokenizer_file.is_file():
            raise FileNotFoundError(
                f"StaticEmbedding expects {TOKENIZER_FILE} in {path}, found none. Re-save the module, or copy the "
                "tokenizer.json of the tokenizer it was trained with into that folder."
            )
        state_dict = read_state_dict(path)
        if state_dict is None:
            raise ValueError(
                f"StaticEmbedding expects {WEIGHTS_SAFETENSORS} or {WEIGHTS_PICKLE} in {path}, found neither. "
                "Restore the weights file or re-save the module."
            )
        return cls(Tokenizer.from_file(str(tokenizer_file)), embedding_weights=_embedding_matrix(state_dict, path))

    # ---------------------------------------------------------- from model2vec
    @classmethod
    def from_model2vec(cls, model_id_or_path: str) -> StaticEmbedding:
        """Build from a pre-distilled model2vec model (Hub id or local folder); needs ``pip install model2vec``.

        Args:
            model_id_or_path: A model2vec model, e.g. ``"minishlab/potion-base-8M"``.

        Returns:
            A StaticEmbedding with that model's tokenizer and vectors (mapping and token weights folded in).

        Raises:
            ImportError: If model2vec is not installed.
        """
        model2vec = _import_optional("model2vec", "model2vec", "from_model2vec")
        static_model = model2vec.StaticModel.from_pretrained(model_id_or_path)
        return cls(
            static_model.tokenizer, embedding_weights=_model2vec_vectors(static_model), base_model=model_id_or_path
        )

    @classmethod
    def from_distillation(
        cls,
        model_name: str,
        vocabulary: list[str] | None = None,
        device: str | None = None,
        pca_dims: int | None = 256,
        apply_zipf: bool = True,
        sif_coefficient: float | None = 1e-4,
        token_remove_pattern: str | None = r"\[unused\d+\]",
        quantize_to: str = "float32",
        use_subword: bool = True,
        **kwargs: Any,
    ) -> StaticEmbedding:
        """Distill static vectors from a Transformer model with model2vec (``pip install model2vec[distill]``).

        Arguments that the installed model2vec's ``distill`` does not accept are dropped with a warning.

        Args:
            model_name: The Hugging Face model to distill.
            vocabulary: Extra words to add to the vocabulary.
            device: Device to run the model on; None lets model2vec choose.
            pca_dims: Output size after PCA; None keeps the model's size.
            apply_zipf: Weight tokens by Zipf's law (older model2vec versions).
            sif_coefficient: SIF weighting coefficient; None disables it.
            token_remove_pattern: Regex of tokens to remove from the vocabulary.
            quantize_to: Data type of the vectors, e.g. ``"float32"``, ``"float16"``.
            use_subword: Keep subword tokens (older model2vec versions).
            **kwargs: Further ``distill`` arguments.

        Returns:
            A StaticEmbedding with the distilled tokenizer and vectors; ``base_model`` is ``model_name``.

        Raises:
            ImportError: If model2vec (with its ``distill`` extra) is not installed.
        """
        distill_module = _import_optional("model2vec.distill", "model2vec[distill]", "from_distillation")
        options = {
            "vocabulary": vocabulary,
            "device": device,
            "pca_dims": pca_dims,
            "apply_zipf": apply_zipf,
            "use_subword": use_subword,
            "quantize_to": quantize_to,
            "sif_coefficient": sif_coefficient,
            "token_remove_pattern": token_remove_pattern,
            **kwargs,
        }
        accepted = set(inspect.signature(distill_module.distill).parameters) - {"model_name"}
        if unsupported := sorted(set(options) - accepted):
            logger.warning(
                "The installed model2vec's distill() does not accept %s; they are ignored. Update model2vec to use "
                "them.",
                ", ".join(map(repr, unsupported)),
            )
            options = {key: value for key, value in options.items() if key in accepted}
        static_model = distill_module.distill(model_name, **options)
        return cls(static_model.tokenizer, embedding_weights=_model2vec_vectors(static_model), base_model=model_name)


def fold_model2vec_weights(
    embeddings: np.ndarray | torch.Tensor,
    token_mapping: np.ndarray | torch.Tensor | None = None,
    token_weights: np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """Fold model2vec's optional token mapping and per-token weights into one vector per token id.

    The result satisfies ``out[token] == embeddings[token_mapping[token]] * token_weights[token]``, which is the
    vector model2vec averages for that token.

    Args:
        embeddings: Stored vectors ``(rows, dim)``.
        token_mapping: Row of ``embeddings`` for each token id ``(vocab_size,)``; None means the identity.
        token_weights: Scale of each token's vector ``(vocab_size,)``; None means 1.

    Returns:
        A contiguous ``(vocab_size, dim)`` tensor, in the dtype of ``embeddings``.
    """
    vectors = torch.as_tensor(embeddings)
    if token_mapping is not None:
        vectors = vectors[torch.as_tensor(token_mapping, dtype=torch.long)]
    if token_weights is not None:
        compute_dtype = torch.promote_types(vectors.dtype, torch.float32)
        scale = torch.as_tensor(token_weights).to(compute_dtype)[:, None]
        vectors = (vectors.to(compute_dtype) * scale).to(vectors.dtype)
    return vectors.contiguous()


def _embedding_matrix(state_dict: dict[str, torch.Tensor], path: Path) -> torch.Tensor:
    """The ``(vocab_size, dim)`` matrix stored under ST's key, or folded from model2vec's keys."""
    if EMBEDDING_KEY in state_dict:
        return state_dict[EMBEDDING_KEY]
    if "embeddings" in state_dict:
        return fold_model2vec_weights(state_dict["embeddings"], state_dict.get("mapping"), state_dict.get("weights"))
    raise ValueError(
        f"StaticEmbedding expects the weights in {path} to hold {EMBEDDING_KEY!r} (sentence-transformers) or "
        f"{MODEL2VEC_KEYS[0]!r} (model2vec), found keys {sorted(state_dict)}. Is this folder a StaticEmbedding?"
    )


def _model2vec_vectors(static_model: Any) -> torch.Tensor:
    """Vectors of a ``model2vec.StaticModel``: its NumPy matrix with mapping and weights folded, or a torch one."""
    embedding = static_model.embedding
    if isinstance(embedding, np.ndarray):
        # token_mapping / weights exist only in newer model2vec releases (vocabulary-quantized models)
        return fold_model2vec_weights(
            embedding, getattr(static_model, "token_mapping", None), getattr(static_model, "weights", None)
        )
    return embedding.weight


def _import_optional(module_name: str, pip_name: str, method: str) -> ModuleType:
    """Import an optional dependency, or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"StaticEmbedding.{method} needs the optional package model2vec ({module_name!r} could not be imported: "
            f"{error}). Install it with `pip install {pip_name}` and call {method} again."
        ) from error
