"""MultipleNegativesRankingLoss: InfoNCE with in-batch negatives (and optional hard negatives)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses import functional
from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.distributed import all_gather_with_grad, get_rank
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional import Direction, HardnessMode, PartitionMode
from embedforge.losses.naming import similarity_fct_name
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["MultipleNegativesRankingLoss"]

_CPC_CITATION = """
@misc{oord2019representationlearningcontrastivepredictive,
      title={Representation Learning with Contrastive Predictive Coding},
      author={Aaron van den Oord and Yazhe Li and Oriol Vinyals},
      year={2019},
      eprint={1807.03748},
      archivePrefix={arXiv},
      primaryClass={cs.LG},
      url={https://arxiv.org/abs/1807.03748},
}
"""

_GTE_CITATION = """
@misc{li2023generaltextembeddingsmultistage,
      title={Towards General Text Embeddings with Multi-stage Contrastive Learning},
      author={Zehan Li and Xin Zhang and Yanzhao Zhang and Dingkun Long and Pengjun Xie and Meishan Zhang},
      year={2023},
      eprint={2308.03281},
      archivePrefix={arXiv},
      primaryClass={cs.CL},
      url={https://arxiv.org/abs/2308.03281},
}
"""

_JINA_CITATION = """
@misc{günther2024jinaembeddings28192token,
      title={Jina Embeddings 2: 8192-Token General-Purpose Text Embeddings for Long Documents},
      author={Michael Günther and Jackmin Ong and Isabelle Mohr and Alaeddine Abdessalem and Tanguy Abel and Mohammad Kalim Akram and Susana Guzman and Georgios Mastrapas and Saba Sturua and Bo Wang and Maximilian Werk and Nan Wang and Han Xiao},
      year={2024},
      eprint={2310.19923},
      archivePrefix={arXiv},
      primaryClass={cs.CL},
      url={https://arxiv.org/abs/2310.19923},
}
"""  # noqa: E501


class MultipleNegativesRankingLoss(Loss):
    r"""Rank each anchor's own positive above every other document of the batch (InfoNCE / in-batch negatives).

    For anchors ``q_i``, positives ``p_i`` and optional hard negatives ``n_i^1 … n_i^k`` (one per extra column),
    the candidates of ``q_i`` are every document of the batch: all positives and all hard negatives, its own and
    the other examples'. With ``s = similarity_fct`` and the default options the loss is the cross-entropy of
    picking the positive::

        loss = mean_i [ log Σ_c exp(scale * s(q_i, c)) - scale * s(q_i, p_i) ]

    ``directions`` adds more terms to the denominator (each leaves out self-pairs and same-example documents):

    ==================  ================================================================================
    ``query_to_doc``    ``s(q_i, d)`` for every document ``d`` (required; holds the positive)
    ``query_to_query``  ``s(q_i, q_j)``, ``j != i``
    ``doc_to_query``    ``s(q_j, p_i)`` for every anchor ``q_j``
    ``doc_to_doc``      ``s(d, p_i)`` for every document ``d`` of another example
    ==================  ================================================================================

    ``partition_mode="joint"`` uses one softmax over all selected terms; ``"per_direction"`` averages the
    log-partitions of each direction (only for directions that contain the positive, so it rejects
    ``query_to_query`` and ``doc_to_doc``). With ``hardness_mode``, ``hardness_strength * stop_grad(s(q_i, d))``
    (not multiplied by ``scale``) is added to the ``query_to_doc`` logits of in-batch negatives
    (``"in_batch_negatives"``, Lan et al. 2025), of the example's own hard negatives (``"hard_negatives"``,
    EmbeddingGemma), or of both (``"all_negatives"``), so that harder negatives weigh more.

    =================================================  ======
    Inputs                                             Labels
    =================================================  ======
    (anchor, positive) pairs                           none
    (anchor, positive, negative) triplets              none
    (anchor, positive, negative_1, ..., negative_n)    none
    =================================================  ======

    When to use: retrieval and similarity training from positive pairs only; the default choice for
    (query, passage) data. Larger batches give more negatives; sample batches without duplicates
    (``BatchSamplers.NO_DUPLICATES``) so that no in-batch negative is in fact a positive. Variants:
    symmetric InfoNCE is ``directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"``; GTE's
    improved contrastive loss is all four directions with ``partition_mode="joint"``.

    Related: ``CachedMultipleNegativesRankingLoss`` computes the same value and gradients with bounded memory;
    ``MultipleNegativesSymmetricRankingLoss``; ``GISTEmbedLoss`` filters false negatives with a guide model.
    The math lives in :func:`embedforge.losses.functional.multiple_negatives_ranking_loss`.

    References:
        van den Oord et al. 2018, https://arxiv.org/abs/1807.03748; Henderson et al. 2017,
        https://arxiv.org/abs/1705.00652; Li et al. 2023 (GTE), https://arxiv.org/abs/2308.03281; Lan et al. 2025,
        https://huggingface.co/papers/2503.04812.

    Args:
        model: The model to train.
        scale: Multiplies the similarities before the softmax (``scale = 1 / temperature``); 20 suits cosine,
            use about 1 with ``dot_score``.
        similarity_fct: Similarity matrix function ``(n, dim), (m, dim) -> (n, m)``.
        gather_across_devices: Gather anchors and documents from every torch.distributed rank (with gradients) so
            that each example also sees the other ranks' documents as negatives. All ranks need equal batch sizes.
        directions: Interaction terms in the denominator; see the table above.
        partition_mode: ``"joint"`` or ``"per_direction"``.
        hardness_mode: None, ``"in_batch_negatives"``, ``"hard_negatives"`` or ``"all_negatives"``.
        hardness_strength: The penalty factor ``alpha`` (9 in Lan et al., 5 in EmbeddingGemma); must be >= 0.

    Raises:
        ValueError: For a non-positive scale, unknown or missing directions, ``per_direction`` with a same-type
            direction, an unknown hardness mode, or a negative strength.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import MultipleNegativesRankingLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = MultipleNegativesRankingLoss(model)  # doctest: +SKIP
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
        "gather_across_devices",
        "directions",
        "partition_mode",
        "hardness_mode",
        "hardness_strength",
    )

    def __init__(
        self,
        model: EmbeddingModel,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        gather_across_devices: bool = False,
        directions: Sequence[Direction] = ("query_to_doc",),
        partition_mode: PartitionMode = "joint",
        hardness_mode: HardnessMode | None = None,
        hardness_strength: float = 0.0,
    ) -> None:
        super().__init__(model)
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
        """Embed every column and compute the loss.

        Args:
            sentence_features: Anchor, positive and hard-negative batches, ``input_ids`` ``(batch, seq)``….
            labels: Ignored (the column order is the supervision).

        Returns:
            Scalar loss.
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss of already computed embeddings (gathered across ranks first if asked).

        Args:
            embeddings: ``(batch, dim)`` anchors, positives, then any hard negatives.
            labels: Ignored.

        Returns:
            Scalar loss, the mean over this process's examples.

        Raises:
            ValueError: If fewer than two columns are given.
        """
        if len(embeddings) < 2:
            raise ValueError(
                f"MultipleNegativesRankingLoss needs at least 2 text columns (anchor, positive), got "
                f"{len(embeddings)}. Add a positive column to the dataset."
            )
        queries, docs = embeddings[0], embeddings[1:]
        batch_size, offset = queries.size(0), 0
        if self.gather_across_devices:
            queries = all_gather_with_grad(queries)
            docs = [all_gather_with_grad(doc) for doc in docs]
            offset = get_rank() * batch_size
        return functional.multiple_negatives_ranking_loss(
            queries,
            docs,
            scale=self.scale,
            similarity_fct=self.similarity_fct,
            directions=self.directions,
            partition_mode=self.partition_mode,
            hardness_mode=self.hardness_mode,
            hardness_strength=self.hardness_strength,
            offset=offset,
            batch_size=batch_size,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments, the similarity function by its short name (e.g. ``"cos_sim"``)."""
        return {**super().get_config_dict(), "similarity_fct": similarity_fct_name(self.similarity_fct)}

    @property
    def temperature(self) -> float:
        """``1 / scale``."""
        return 1.0 / self.scale

    @property
    def citation(self) -> str:  # type: ignore[override]
        """BibTeX of the variant in use: GTE (all four directions, joint), Jina (symmetric, per direction), else CPC."""
        selected = set(self.directions)
        if selected == set(functional.DIRECTIONS) and self.partition_mode == "joint":
            return _GTE_CITATION
        if selected == {"query_to_doc", "doc_to_query"} and self.partition_mode == "per_direction":
            return _JINA_CITATION
        return _CPC_CITATION
