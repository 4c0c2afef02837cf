"""ContrastiveTensionLossInBatchNegatives: contrastive tension with the other texts of the batch as negatives."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.contrastive_tension import CONTRASTIVE_TENSION_CITATION
from embedforge.losses.functional import ranking_loss_from_logits
from embedforge.losses.naming import similarity_fct_name
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["ContrastiveTensionLossInBatchNegatives"]

logger = logging.getLogger(__name__)


class ContrastiveTensionLossInBatchNegatives(Loss):
    r"""Contrastive Tension with in-batch negatives: each text must find itself across two copies of the encoder.

    Every text ``x_i`` of the single input column is embedded twice: by ``model1``, an independent copy of the
    model made when the loss is created (and trained along), and by ``model2``, the model itself. With a learned
    temperature ``t = exp(logit_scale)`` (initialized to ``scale``) and ``S_ij = t * similarity_fct(model1(x_i),
    model2(x_j))``, the loss is the symmetric cross-entropy of matching each text to itself::

        loss = ( mean_i [logsumexp_j S_ij - S_ii] + mean_j [logsumexp_i S_ij - S_jj] ) / 2

    ==========================  ======
    Inputs                      Labels
    ==========================  ======
    single texts                none
    (text, same text) pairs     none
    ==========================  ======

    Only the first column is read. The documentation's CT scripts pass every sentence twice
    (``{"sentence1": s, "sentence2": s}``); sentence-transformers reads the first column of those pairs, and so does
    this loss (with a warning, once, if a second column holds other texts: it is ignored).

    When to use: unsupervised domain adaptation from plain sentences; larger batches give more negatives.

    Related: ``ContrastiveTensionLoss`` scores explicit (identical or random) pairs with a sigmoid instead and gives
    a weaker signal; :class:`MultipleNegativesRankingLoss` with ``directions=("query_to_doc", "doc_to_query")``
    and ``partition_mode="per_direction"`` is the same objective on (anchor, positive) pairs (its
    :func:`embedforge.losses.functional.ranking_loss_from_logits` computes this loss too).

    References:
        Carlsson et al., "Semantic Re-tuning with Contrastive Tension", ICLR 2021,
        https://openreview.net/forum?id=Ov_sMNau-PF.

    Args:
        model: The model to train (``model2``); ``model1`` is a deep copy of it.
        scale: Initial value of the learned inverse temperature ``exp(logit_scale)``.
        similarity_fct: Similarity matrix function ``(n, dim), (n, dim) -> (n, n)``; with ``dot_score`` use a
            scale of about 1.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import ContrastiveTensionLossInBatchNegatives
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = ContrastiveTensionLossInBatchNegatives(model)  # doctest: +SKIP
        >>> texts = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> loss([texts], None).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=1, max_texts=2, label=LabelKind.NONE, description="single texts, or (text, same text) pairs"
    )
    config_keys = ("scale", "similarity_fct")
    citation = CONTRASTIVE_TENSION_CITATION

    def __init__(
        self,
        model: EmbeddingModel,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
    ) -> None:
        super().__init__(model)
        self.model1: nn.Module = copy.deepcopy(model)
        self.similarity_fct = similarity_fct
        self.logit_scale = nn.Parameter(torch.full((), math.log(scale)))
        self._warned_second_column = False

    @property
    def model2(self) -> nn.Module:
        """The model being trained (the same object as ``model``)."""
        return self.model

    @property
    def scale(self) -> float:
        """The current inverse temperature ``exp(logit_scale)``."""
        return self.logit_scale.exp().item()

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """Embed the first column with both encoders and compute the loss.

        Args:
            sentence_features: One tokenized column, or two (the second, the same texts again, is not read),
                ``input_ids`` ``(batch, seq)``….
            labels: Ignored (each text's positive is itself).

        Returns:
            Scalar loss.

        Raises:
            ValueError: Unless there are one or two text columns.
        """
        if len(sentence_features) not in (1, 2):
            raise ValueError(
                f"ContrastiveTensionLossInBatchNegatives expects 1 text column (or the same texts twice), got "
                f"{len(sentence_features)}; each text is paired with itself."
            )
        features = sentence_features[0]
        if len(sentence_features) == 2:
            self._warn_if_second_column_differs(features, sentence_features[1])
        embeddings_1 = self.model1(dict(features))["sentence_embedding"]
        embeddings_2 = self.model2(dict(features))["sentence_embedding"]
        return self.compute_loss_from_embeddings([embeddings_1, embeddings_2])

    def _warn_if_second_column_differs(self, first: Features, second: Features) -> None:
        """Warn once when a second column is not the first one again (it is ignored either way)."""
        if self._warned_second_column:
            return
        same = first["input_ids"].shape == second["input_ids"].shape and torch.equal(
            first["input_ids"], second["input_ids"]
        )
        if not same:
            self._warned_second_column = True
            logger.warning(
                "ContrastiveTensionLossInBatchNegatives reads only the first text column; the second holds other "
                "texts and is ignored (each text's positive is itself). Pass a single column, or the same texts twice."
            )

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss of already computed embeddings of the same texts by both encoders.

        Args:
            embeddings: ``(batch, dim)`` embeddings by ``model1``, then ``(batch, dim)`` by ``model2``.
            labels: Ignored.

        Returns:
            Scalar loss.
        """
        scores = self.similarity_fct(embeddings[0], embeddings[1]) * self.logit_scale.exp()
        targets = torch.arange(scores.size(0), device=scores.device)
        logits = {"query_to_doc": scores, "doc_to_query": scores.T}
        return ranking_loss_from_logits(logits, targets, partition_mode="per_direction")

    def get_config_dict(self) -> dict[str, Any]:
        """The current scale and the similarity function's short name."""
        return {"scale": self.scale, "similarity_fct": similarity_fct_name(self.similarity_fct)}
