"""CachedMultipleNegativesRankingLoss: MultipleNegativesRankingLoss with GradCache (large batches, small memory)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from embedforge.losses import functional
from embedforge.losses.base import InputSpec, LabelKind
from embedforge.losses.cached import CachedLoss, MiniBatches
from embedforge.losses.distributed import all_gather_with_grad, get_rank
from embedforge.losses.functional import Direction, HardnessMode, PartitionMode
from embedforge.losses.naming import similarity_fct_name
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["GRADCACHE_CITATION", "CachedMultipleNegativesRankingLoss"]

GRADCACHE_CITATION = """
@misc{gao2021scaling,
    title={Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
    author={Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},
    year={2021},
    eprint={2101.06983},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""


class CachedMultipleNegativesRankingLoss(CachedLoss):
    r"""MultipleNegativesRankingLoss computed with a gradient cache: the same value and gradients, bounded memory.

    The loss is exactly :class:`~embedforge.losses.MultipleNegativesRankingLoss` (InfoNCE with in-batch
    negatives; every option — ``directions``, ``partition_mode``, ``hardness_mode`` — means the same)::

        loss = mean_i [ log Σ_c exp(scale * s(q_i, c)) - scale * s(q_i, p_i) ]

    but the batch is embedded ``mini_batch_size`` examples at a time (GradCache, see
    :mod:`embedforge.losses.cached`): a first pass without gradients, the loss and its gradients with respect
    to the embeddings (computed in chunks of ``mini_batch_size`` anchors), then a second pass per mini-batch that
    back-propagates those gradients. Memory is that of one mini-batch; compute is about 1.2–2.4x that of the plain
    loss. Dropout is replayed identically in the second pass.

    =================================================  ======
    Inputs                                             Labels
    =================================================  ======
    (anchor, positive) pairs                           none
    (anchor, positive, negative) triplets              none
    (anchor, positive, negative_1, ..., negative_n)    none
    =================================================  ======

    When to use: when the batch size you want for in-batch negatives (hundreds to tens of thousands) does not fit
    in memory with :class:`~embedforge.losses.MultipleNegativesRankingLoss`. Use a large
    ``per_device_train_batch_size``, the largest ``mini_batch_size`` that fits, and
    ``BatchSamplers.NO_DUPLICATES``.

    Related: ``MultipleNegativesRankingLoss`` (same math, one pass); ``CachedMultipleNegativesSymmetricRankingLoss``;
    ``CachedGISTEmbedLoss``; ``MatryoshkaLoss`` works on top of it (it truncates the cached embeddings).

    References:
        Gao et al. 2021, Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup,
        https://arxiv.org/abs/2101.06983; Henderson et al. 2017, https://arxiv.org/abs/1705.00652.

    Args:
        model: The model to train.
        scale: Inverse temperature applied to the similarities (20 suits cosine; about 1 for ``dot_score``).
        similarity_fct: Similarity matrix function ``(n, dim), (m, dim) -> (n, m)``.
        mini_batch_size: Examples per forward pass (and anchors per loss chunk); bounds memory.
        mini_batch_num_tokens: If set, forward mini-batches hold up to this many non-padding tokens instead.
        gather_across_devices: Use every torch.distributed rank's documents as negatives (equal batch sizes).
        directions: Interaction terms, as in MultipleNegativesRankingLoss.
        partition_mode: ``"joint"`` or ``"per_direction"``.
        show_progress_bar: Show progress over mini-batches and loss chunks.
        hardness_mode: None, ``"in_batch_negatives"``, ``"hard_negatives"`` or ``"all_negatives"``.
        hardness_strength: The hardness penalty factor, >= 0.

    Raises:
        ValueError: For invalid ranking options (as MultipleNegativesRankingLoss), non-positive mini-batch
            settings, or a StaticEmbedding model.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import CachedMultipleNegativesRankingLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=32)  # doctest: +SKIP
        >>> anchors = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> positives = model.tokenize(["It's so sunny.", "He took the car to the office."])  # doctest: +SKIP
        >>> loss([anchors, positives], None).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2,
        max_texts=None,
        label=LabelKind.NONE,
        description="(anchor, positive) pairs, (anchor, positive, negative) triplets, or "
        "(anchor, positive, negative_1, ..., negative_n) tuples",
    )
    config_keys = (
        "scale",
        "similarity_fct",
        "mini_batch_size",
        "mini_batch_num_tokens",
        "gather_across_devices",
        "directions",
        "partition_mode",
        "hardness_mode",
        "hardness_strength",
    )
    citation = GRADCACHE_CITATION

    def __init__(
        self,
        model: EmbeddingModel,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        gather_across_devices: bool = False,
        directions: Sequence[Direction] = ("query_to_doc",),
        partition_mode: PartitionMode = "joint",
        show_progress_bar: bool = False,
        hardness_mode: HardnessMode | None = None,
        hardness_strength: float = 0.0,
    ) -> None:
        super().__init__(model, mini_batch_size, mini_batch_num_tokens, show_progress_bar)
        self.directions = functional.check_ranking_options(
            scale, directions, partition_mode, hardness_mode, hardness_strength
        )
        self.scale = scale
        self.similarity_fct = similarity_fct
        self.gather_across_devices = gather_across_devices
        self.partition_mode: PartitionMode = partition_mode
        self.hardness_mode: HardnessMode | None = hardness_mode
        self.hardness_strength = hardness_strength

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """Embed in mini-batches and return the loss; its backward runs the cached backward pass.

        Args:
            sentence_features: Anchor, positive and hard-negative columns, ``input_ids`` ``(batch, seq)``….
            labels: Ignored.

        Returns:
            Scalar loss.

        Raises:
            ValueError: If fewer than two columns are given.
        """
        sentence_features = list(sentence_features)
        _check_columns(type(self).__name__, len(sentence_features))
        return self.forward_cached(sentence_features, labels)

    def calculate_loss(
        self,
        reps: MiniBatches,
        labels: Tensor | None,
        *,
        extras: list[list[Any]] | None = None,
        with_backward: bool = False,
    ) -> Tensor:
        """The ranking loss of the batch, in chunks of ``mini_batch_size`` anchors (see CachedLoss.calculate_loss).

        Args:
            reps: Per column, ``(mini_batch, dim)`` embeddings: anchors, positives, then hard negatives.
            labels: Ignored.
            extras: Ignored.
            with_backward: Back-propagate each chunk to ``reps`` at once and return the detached sum.

        Returns:
            Scalar loss, the mean over this process's anchors.
        """
        _check_columns(type(self).__name__, len(reps))
        queries = torch.cat(reps[0])
        docs = [torch.cat(column) for column in reps[1:]]
        batch_size, offset = queries.size(0), 0
        if self.gather_across_devices:
            queries = all_gather_with_grad(queries)
            docs = [all_gather_with_grad(doc) for doc in docs]
            offset = get_rank() * batch_size
        chunks = []
        for begin, end in self.loss_chunks(batch_size):
            logits, positives = functional.ranking_logits(
                queries,
                docs,
                scale=self.scale,
                similarity_fct=self.similarity_fct,
                directions=self.directions,
                hardness_mode=self.hardness_mode,
                hardness_strength=self.hardness_strength,
                offset=offset + begin,
                batch_size=end - begin,
            )
            chunk = functional.ranking_loss_from_logits(logits, positives, self.partition_mode) * (end - begin)
            chunk = chunk / batch_size
            if with_backward:
                chunk.backward()
                chunk = chunk.detach()
            chunks.append(chunk)
        return torch.stack(chunks).sum()

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments (ST's keys), the similarity function by its short name."""
        return {**super().get_config_dict(), "similarity_fct": similarity_fct_name(self.similarity_fct)}

    @property
    def temperature(self) -> float:
        """``1 / scale``."""
        return 1.0 / self.scale


def _check_columns(owner: str, count: int) -> None:
    if count < 2:
        raise ValueError(
            f"{owner} needs at least 2 text columns (anchor, positive), got {count}. Add a positive column."
        )
