"""ContrastiveTensionLoss: two copies of the encoder learn to agree on identical texts and disagree otherwise."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.contrastive_tension_data_loader import ContrastiveTensionDataLoader
from embedforge.losses.functional import check_label_count
from embedforge.losses.functional import contrastive as functional

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = [
    "CONTRASTIVE_TENSION_CITATION",
    "ContrastiveTensionDataLoader",
    "ContrastiveTensionLoss",
    "identical_texts",
]

CONTRASTIVE_TENSION_CITATION = """
@inproceedings{carlsson2021semantic,
    title={Semantic Re-tuning with Contrastive Tension},
    author={Fredrik Carlsson and Amaru Cuba Gyllensten and Evangelia Gogoulou and Erik Ylip{"a}{"a} Hellqvist and Magnus Sahlgren},
    booktitle={International Conference on Learning Representations},
    year={2021},
    url={https://openreview.net/forum?id=Ov_sMNau-PF}
}
"""  # noqa: E501


def identical_texts(first: Features, second: Features) -> Tensor:
    """Whether each row of two tokenized columns holds the same tokens (padding ignored where masks exist).

    Args:
        first: Tokenized column, ``input_ids`` ``(batch, seq_1)`` and optionally ``attention_mask``.
        second: Tokenized column, ``input_ids`` ``(batch, seq_2)`` and optionally ``attention_mask``.

    Returns:
        ``(batch,)`` bool tensor.
    """
    ids_1, ids_2 = first["input_ids"], second["input_ids"]
    mask_1, mask_2 = first.get("attention_mask"), second.get("attention_mask")
    if mask_1 is None or mask_2 is None:
        if ids_1.shape != ids_2.shape:
            return torch.zeros(ids_1.size(0), dtype=torch.bool, device=ids_1.device)
        return (ids_1 == ids_2).all(dim=1)
    rows = zip(ids_1, mask_1.bool(), ids_2, mask_2.bool(), strict=True)
    same = [torch.equal(row_1[keep_1], row_2[keep_2]) for row_1, keep_1, row_2, keep_2 in rows]
    return torch.tensor(same, dtype=torch.bool, device=ids_1.device)


class ContrastiveTensionLoss(Loss):
    r"""Contrastive Tension (CT): a copy of the encoder and the encoder itself score pairs of texts by dot product.

    The first text of each pair is embedded by ``model1``, an independent copy of the model made when the loss is
    created (and trained along); the second by ``model2``, the model itself (the one kept after training). A pair
    is positive if both texts are the same, negative otherwise, and the loss is the summed binary cross-entropy::

        loss = Σ_i BCE(sigmoid(model1(x_i) · model2(y_i)), label_i)

    When there is no label column, the label of each pair is 1 if both texts tokenize to the same tokens (padding
    ignored), else 0.

    ========================  ==================================
    Inputs                    Labels
    ========================  ==================================
    (input_A, input_B) pairs  none (derived), or 1 / 0 per pair
    ========================  ==================================

    When to use: unsupervised domain adaptation from plain sentences. Build pairs with
    ``ContrastiveTensionDataLoader`` (1 identical pair per ``pos_neg_ratio`` pairs), or map a sentence column to a
    second column that is the same sentence with probability ``1 / pos_neg_ratio`` and a random one otherwise.

    Related: ``ContrastiveTensionLossInBatchNegatives`` uses the other texts of the batch as negatives and gives a
    stronger signal. The math is :func:`embedforge.losses.functional.contrastive.contrastive_tension_loss`.

    References:
        Carlsson et al., "Semantic Re-tuning with Contrastive Tension", ICLR 2021,
        https://openreview.net/forum?id=Ov_sMNau-PF.

    Args:
        model: The model to train (``model2``); ``model1`` is a deep copy of it.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import ContrastiveTensionLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = ContrastiveTensionLoss(model)  # doctest: +SKIP
        >>> first = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> second = model.tokenize(["It's nice weather outside today.", "It's so sunny."])  # doctest: +SKIP
        >>> loss([first, second], None).backward()  # labels derived: [1, 0]  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2,
        max_texts=2,
        label=LabelKind.OPTIONAL,
        description="(input_A, input_B) pairs, identical texts being positives, with optional 1/0 labels",
    )
    citation = CONTRASTIVE_TENSION_CITATION

    def __init__(self, model: EmbeddingModel) -> None:
        super().__init__(model)
        self.model1: nn.Module = copy.deepcopy(model)

    @property
    def model2(self) -> nn.Module:
        """The model being trained (the same object as ``model``), which embeds the second texts."""
        return self.model

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """Embed the first texts with ``model1`` and the second with ``model2``, and compute the loss.

        Args:
            sentence_features: The two tokenized columns, ``input_ids`` ``(batch, seq)``….
            labels: ``(batch,)`` 1/0 labels, or None to derive them from token identity.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Unless there are two columns and, when given, one label per pair.
        """
        if len(sentence_features) != 2:
            raise ValueError(
                f"ContrastiveTensionLoss expects 2 text columns (input_A, input_B), got {len(sentence_features)}."
            )
        first, second = sentence_features
        embeddings_1 = self.model1(first)["sentence_embedding"]
        embeddings_2 = self.model2(second)["sentence_embedding"]
        if labels is None:
            labels = identical_texts(first, second)
        return self.compute_loss_from_embeddings([embeddings_1, embeddings_2], labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: ``(batch, dim)`` first texts by ``model1``, then ``(batch, dim)`` second texts by ``model2``.
            labels: ``(batch,)`` 1/0 labels (required here: token identity needs the features).

        Returns:
            Scalar loss.

        Raises:
            ValueError: Without labels, or without one label per pair.
        """
        if labels is None:
            raise ValueError(
                "ContrastiveTensionLoss.compute_loss_from_embeddings needs the 1/0 labels; forward() derives them "
                "from the tokenized texts when the dataset has none."
            )
        labels = check_label_count(labels, embeddings[0].size(0), type(self).__name__)
        return functional.contrastive_tension_loss(embeddings[0], embeddings[1], labels)

    def get_config_dict(self) -> dict[str, Any]:
        """No configurable arguments."""
        return {}


def __getattr__(name: str) -> object:
    """``ContrastiveTensionLossInBatchNegatives`` here too, where sentence-transformers defines it.

    Imported on first use: its own module imports this one.
    """
    if name == "ContrastiveTensionLossInBatchNegatives":
        from embedforge.losses.contrastive_tension_in_batch_negatives import ContrastiveTensionLossInBatchNegatives

        return ContrastiveTensionLossInBatchNegatives
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
