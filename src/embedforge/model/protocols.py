"""What losses and evaluators need of a model, as protocols (typing only; no ``hasattr`` checks).

A loss or evaluator names the protocol of the family it serves instead of a concrete model class, so that any
model with those members (a subclass, a wrapper) fits, and so that losses and evaluators depend on the model's
surface, not on its implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from embedforge.models.base import Features


class EmbeddingModel(Protocol):
    """A model that embeds texts (the bi-encoder family): what its losses and evaluators use."""

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are."""
        ...

    @property
    def similarity_fn_name(self) -> str:
        """The similarity of :meth:`similarity` (``cosine``, ``dot``…)."""
        ...

    @property
    def tokenizer(self) -> Any:
        """The input module's tokenizer."""
        ...

    @property
    def max_seq_length(self) -> int | None:
        """Longest input in tokens."""
        ...

    prompts: dict[str, str]
    default_prompt_name: str | None
    model_card_data: Any

    def tokenize(self, texts: Sequence[Any], **kwargs: Any) -> Features:
        """Tokenize a batch of texts (``prompt=`` and ``task=`` honoured)."""
        ...

    def preprocess(self, texts: Sequence[Any], **kwargs: Any) -> Features:
        """Same as :meth:`tokenize`."""
        ...

    def __call__(self, features: Features, **kwargs: Any) -> Features:
        """Run the model; the output holds ``sentence_embedding`` ``(batch, dim)``."""
        ...

    def encode(self, sentences: Any, **kwargs: Any) -> np.ndarray | Tensor | list[Any]:
        """Embed texts (see :meth:`embedforge.SentenceTransformer.encode`)."""
        ...

    def encode_query(self, sentences: Any, **kwargs: Any) -> np.ndarray | Tensor | list[Any]:
        """Embed queries (their prompt and route)."""
        ...

    def encode_document(self, sentences: Any, **kwargs: Any) -> np.ndarray | Tensor | list[Any]:
        """Embed documents (their prompt and route)."""
        ...

    def role_encode_kwargs(self, task: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The ``encode`` options of ``encode_query``/``encode_document``."""
        ...

    def similarity(self, embeddings1: Tensor | np.ndarray, embeddings2: Tensor | np.ndarray) -> Tensor:
        """All-pairs similarity ``(n1, n2)``."""
        ...

    def similarity_pairwise(self, embeddings1: Tensor | np.ndarray, embeddings2: Tensor | np.ndarray) -> Tensor:
        """Row-wise similarity ``(n,)``."""
        ...

    def get_sentence_embedding_dimension(self) -> int | None:
        """Size of the embeddings."""
        ...


class ScoringModel(Protocol):
    """A model that scores text pairs (the cross-encoder family): what its losses and evaluators use."""

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are."""
        ...

    @property
    def num_labels(self) -> int:
        """Outputs per pair (1 for a relevance score)."""
        ...

    prompts: dict[str, str]
    model_card_data: Any

    def preprocess(self, texts: Sequence[Any], **kwargs: Any) -> Features:
        """Tokenize a batch of ``(query, document)`` pairs (``prompt=`` and ``task=`` honoured)."""
        ...

    def __call__(self, features: Features, **kwargs: Any) -> Features:
        """Run the model; the output holds ``scores`` ``(batch, num_labels)``."""
        ...

    def predict(self, inputs: Any, **kwargs: Any) -> np.ndarray | Tensor | list[Tensor]:
        """Score pairs (see :meth:`embedforge.CrossEncoder.predict`)."""
        ...
