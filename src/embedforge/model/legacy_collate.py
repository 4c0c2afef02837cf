"""The collate functions of sentence-transformers' legacy ``fit`` (``smart_batching_collate`` and friends).

Code written for sentence-transformers v2-v4 passes ``model.smart_batching_collate`` to a ``DataLoader`` of
:class:`~embedforge.InputExample`. The functions here take the model as their first argument, so the model
classes bind them as methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.model.sentence_transformer import SentenceTransformer
    from embedforge.models.base import Features
    from embedforge.readers import InputExample


def _labels(examples: Sequence[InputExample]) -> list[Any]:
    return [example.label for example in examples]


def sentence_batch(model: SentenceTransformer, batch: Sequence[InputExample]) -> tuple[list[Features], torch.Tensor]:
    """Tokenize each text column of ``batch`` and stack the labels, as ST's ``smart_batching_collate``.

    Args:
        model: The model whose input module tokenizes.
        batch: Examples with the same number of texts each.

    Returns:
        One features dict per text column (``input_ids`` of shape ``(batch, seq_len)``…) and the labels, a tensor
        of shape ``(batch,)`` (or ``(batch, dim)`` for numpy-array labels).
    """
    columns = zip(*(example.texts for example in batch), strict=True)
    features = [model.tokenize(list(column)) for column in columns]
    labels = _labels(batch)
    if labels and isinstance(labels[0], np.ndarray):
        return features, torch.from_numpy(np.stack(labels))
    return features, torch.tensor(labels)


def _tokenize_pairs(model: CrossEncoder, columns: list[list[str]], truncation: bool | str) -> Features:
    tokenized = model.tokenizer(*columns, padding=True, truncation=truncation, return_tensors="pt")
    return {name: tensor.to(model.device) for name, tensor in tokenized.items()}


def pair_batch(model: CrossEncoder, batch: Sequence[InputExample]) -> tuple[Features, torch.Tensor]:
    """Tokenize text pairs jointly and build the labels, as ST's CrossEncoder ``smart_batching_collate``.

    Texts are stripped; labels are float for a one-label model and class indices (long) otherwise.

    Returns:
        Features of shape ``(batch, seq_len)`` and labels of shape ``(batch,)``, on the model's device.
    """
    columns = [[text.strip() for text in column] for column in zip(*(example.texts for example in batch), strict=True)]
    dtype = torch.float if model.num_labels == 1 else torch.long
    labels = torch.tensor(_labels(batch), dtype=dtype).to(model.device)
    return _tokenize_pairs(model, columns, "longest_first"), labels


def pair_batch_text_only(model: CrossEncoder, batch: Sequence[Sequence[str]]) -> Features:
    """Tokenize unlabeled text pairs (``[(query, document), ...]``), as ST's ``smart_batching_collate_text_only``.

    Returns:
        Features of shape ``(batch, seq_len)`` on the model's device.
    """
    columns = [[text.strip() for text in column] for column in zip(*batch, strict=True)]
    return _tokenize_pairs(model, columns, True)
