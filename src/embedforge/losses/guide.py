"""Running a guide model (GISTEmbedLoss, CachedGISTEmbedLoss) on the inputs of the model being trained."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from embedforge.util.tensors import batch_to_device

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["GuidedInputs"]


class GuidedInputs:
    """Turns the trained model's features into the guide's embeddings.

    When the guide shares the model's vocabulary and reads at least as many tokens, the model's features are
    reused as they are; otherwise each batch is decoded back to text (special tokens dropped) and tokenized with
    the guide's tokenizer.

    Args:
        model: The model being trained.
        guide: The frozen guide model.
        owner: The loss class name, for error messages.

    Raises:
        ValueError: If either model has no transformers tokenizer (decoding needs one).
    """

    def __init__(self, model: EmbeddingModel, guide: EmbeddingModel, owner: str) -> None:
        from transformers import PreTrainedTokenizerBase

        tokenizers = (_tokenizer_of(model), _tokenizer_of(guide))
        if not all(isinstance(tokenizer, PreTrainedTokenizerBase) for tokenizer in tokenizers):
            raise ValueError(
                f"{owner} needs a transformers tokenizer (PreTrainedTokenizerBase) in both the trained model and the "
                f"guide, found {type(tokenizers[0]).__name__} and {type(tokenizers[1]).__name__}. Use models whose "
                "first module is a Transformer."
            )
        self.tokenizer = tokenizers[0]
        self.must_retokenize = tokenizers[0].get_vocab() != tokenizers[1].get_vocab() or _reads_fewer_tokens(
            guide, model
        )

    def features(self, features: Features, guide: nn.Module) -> Features:
        """The guide's features for one batch: a shallow copy of ``features``, or a retokenization.

        Args:
            features: The trained model's features of one column, ``input_ids`` ``(batch, seq_len)``.
            guide: The guide model (its ``tokenize`` and ``device`` are used when retokenizing).

        Returns:
            Features the guide can run on; the input dict is not modified.
        """
        if not self.must_retokenize:
            return dict(features)
        texts = self.tokenizer.batch_decode(features["input_ids"], skip_special_tokens=True)
        return batch_to_device(guide.tokenize(texts), guide.device)

    def embed(self, features: Features, guide: nn.Module) -> Tensor:
        """The guide's ``(batch, guide_dim)`` embeddings of one column, without gradients."""
        with torch.no_grad():
            return guide(self.features(features, guide))["sentence_embedding"]


def _tokenizer_of(model: EmbeddingModel) -> object:
    try:
        return model.tokenizer
    except (TypeError, AttributeError):
        return None


def _reads_fewer_tokens(guide: EmbeddingModel, model: EmbeddingModel) -> bool:
    guide_length, model_length = guide.max_seq_length, model.max_seq_length
    return guide_length is not None and model_length is not None and guide_length < model_length
