"""GISTEmbedLoss: in-batch negatives whose false negatives are filtered out by a guide model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.distributed import all_gather, all_gather_with_grad, get_rank
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional.gist import MarginStrategy, check_margin_strategy, gist_loss
from embedforge.losses.guide import GuidedInputs

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["GIST_CITATION", "GISTEmbedLoss", "GISTSettings", "gather_candidates", "settings_gist_loss"]

GIST_CITATION = """
@misc{solatorio2024gistembed,
    title={GISTEmbed: Guided In-sample Selection of Training Negatives for Text Embedding Fine-tuning},
    author={Aivin V. Solatorio},
    year={2024},
    eprint={2402.16829},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""


class GISTEmbedLoss(Loss):
    r"""InfoNCE over in-batch candidates, minus those a guide model says are not real negatives (GISTEmbed).

    For anchors ``a_i``, positives ``p_i`` (and optionally negatives ``n_i``), the candidates of ``a_i`` are every
    positive, every other anchor (``contrast_anchors``), every other positive seen from ``p_i``
    (``contrast_positives``) and every negative, scored by cosine similarity. A frozen guide model scores the same
    pairs; a candidate whose guide score exceeds the guide's score of ``(a_i, p_i)`` minus the margin is dropped
    (``absolute``: ``g > g_pos - margin``; ``relative``: ``g > g_pos - |g_pos| * margin``), except ``p_i`` itself.
    Then::

        loss = mean_i [ logsumexp_c (s_ic / temperature) - s(a_i, p_i) / temperature ]

    =======================================  ======
    Inputs                                   Labels
    =======================================  ======
    (anchor, positive) pairs                 none
    (anchor, positive, negative) triplets    none
    =======================================  ======

    When to use: like MultipleNegativesRankingLoss, when batches likely hold false negatives (near-duplicate
    positives, several valid answers) and a good embedding model is available as a guide; it costs one extra
    forward pass of the guide. Use ``BatchSamplers.NO_DUPLICATES``.

    Related: ``MultipleNegativesRankingLoss`` (no filtering); ``CachedGISTEmbedLoss`` (same loss, bounded memory,
    any number of negatives). The math is :func:`embedforge.losses.functional.gist.gist_loss`.

    References:
        Solatorio 2024, GISTEmbed, https://arxiv.org/abs/2402.16829.

    Args:
        model: The model to train.
        guide: The guide model; it is only run without gradients. If its vocabulary differs from the model's, or
            it reads fewer tokens, inputs are decoded and tokenized again for it.
        temperature: Divides the cosine scores (``1 / scale`` of MultipleNegativesRankingLoss).
        margin_strategy: ``"absolute"`` or ``"relative"``.
        margin: With ``"absolute"`` and 0, drops candidates the guide finds more similar than the positive.
        contrast_anchors: Add anchor–anchor negatives (pushes anchors apart).
        contrast_positives: Add positive–positive negatives (pushes positives apart).
        gather_across_devices: Use every torch.distributed rank's positives and negatives as candidates.

    Raises:
        ValueError: For an unknown margin strategy or models without transformers tokenizers.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import GISTEmbedLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> guide = SentenceTransformer("path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> loss = GISTEmbedLoss(model, guide)  # doctest: +SKIP
        >>> anchors = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> positives = model.tokenize(["It's so sunny.", "He took the car to the office."])  # doctest: +SKIP
        >>> loss([anchors, positives], None).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2,
        max_texts=3,
        label=LabelKind.NONE,
        description="(anchor, positive) pairs or (anchor, positive, negative) triplets",
    )
    config_keys = (
        "guide",
        "temperature",
        "margin_strategy",
        "margin",
        "contrast_anchors",
        "contrast_positives",
        "gather_across_devices",
    )
    citation = GIST_CITATION

    def __init__(
        self,
        model: EmbeddingModel,
        guide: EmbeddingModel,
        temperature: float = 0.01,
        margin_strategy: MarginStrategy = "absolute",
        margin: float = 0.0,
        contrast_anchors: bool = True,
        contrast_positives: bool = True,
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model)
        self.guide = guide
        self.guided_inputs = GuidedInputs(model, guide, type(self).__name__)
        self.temperature = temperature
        self.margin_strategy = check_margin_strategy(margin_strategy)
        self.margin = margin
        self.contrast_anchors = contrast_anchors
        self.contrast_positives = contrast_positives
        self.gather_across_devices = gather_across_devices

    @property
    def must_retokenize(self) -> bool:
        """Whether inputs are decoded and tokenized again for the guide.

        Decided from the two tokenizers at construction; may be set (True forces retokenizing, as in
        sentence-transformers, where it is a plain attribute).
        """
        return self.guided_inputs.must_retokenize

    @must_retokenize.setter
    def must_retokenize(self, value: bool) -> None:
        self.guided_inputs.must_retokenize = value

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """Embed every column with the model (with gradients) and the guide (without), then compute the loss.

        Args:
            sentence_features: Anchor, positive (and negative) columns, ``input_ids`` ``(batch, seq)``….
            labels: Ignored.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Unless there are 2 or 3 columns.
        """
        sentence_features = list(sentence_features)
        if len(sentence_features) not in (2, 3):
            raise ValueError(
                f"GISTEmbedLoss expects 2 or 3 text columns (anchor, positive[, negative]), got "
                f"{len(sentence_features)}. Use CachedGISTEmbedLoss for more negative columns."
            )
        # Copies taken before the model runs: the model adds its outputs to the dicts it is given.
        guide_inputs = [dict(features) for features in sentence_features]
        embeddings = embed_columns(self.model, sentence_features)
        guide_embeddings = [self.guided_inputs.embed(features, self.guide) for features in guide_inputs]
        return self.compute_loss_from_embeddings(embeddings, guide_embeddings)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], guide_embeddings: list[Tensor]) -> Tensor:
        """The loss of already computed embeddings (candidates gathered across ranks first if asked).

        Args:
            embeddings: ``(batch, dim)`` anchors, positives (and negatives) of the model.
            guide_embeddings: The guide's embeddings of the same columns.

        Returns:
            Scalar loss.
        """
        embeddings, guide_embeddings, offset = gather_candidates(self, embeddings, guide_embeddings)
        return settings_gist_loss(self, embeddings, guide_embeddings, offset)

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments; ``guide`` is the guide model itself, as in sentence-transformers."""
        return {**super().get_config_dict(), "guide": self.guide}


class GISTSettings(Protocol):
    """The options GISTEmbedLoss and CachedGISTEmbedLoss share."""

    temperature: float
    margin_strategy: MarginStrategy
    margin: float
    contrast_anchors: bool
    contrast_positives: bool
    gather_across_devices: bool


def gather_candidates(
    settings: GISTSettings, embeddings: list[Tensor], guide_embeddings: list[Tensor]
) -> tuple[list[Tensor], list[Tensor], int]:
    """Gather the candidate columns (not the anchors) from every rank when ``gather_across_devices`` is set.

    Args:
        settings: The loss.
        embeddings: ``(batch, dim)`` anchors, positives, then negatives.
        guide_embeddings: The guide's embeddings of the same columns.

    Returns:
        ``(embeddings, guide_embeddings, offset)``: candidates ``(world, dim)`` (with gradients to every rank for
        the model's), anchors unchanged, and the row of this rank's first example among the candidates.
    """
    if not settings.gather_across_devices:
        return embeddings, guide_embeddings, 0
    gathered = [embeddings[0], *(all_gather_with_grad(column) for column in embeddings[1:])]
    guide_gathered = [guide_embeddings[0], *(all_gather(column) for column in guide_embeddings[1:])]
    return gathered, guide_gathered, get_rank() * embeddings[0].size(0)


def settings_gist_loss(
    settings: GISTSettings,
    embeddings: list[Tensor],
    guide_embeddings: list[Tensor],
    offset: int = 0,
    begin: int = 0,
    end: int | None = None,
) -> Tensor:
    """:func:`~embedforge.losses.functional.gist.gist_loss` with the loss's options.

    Args:
        settings: The loss.
        embeddings: Anchors ``(batch, dim)`` and candidates ``(world, dim)``, as from :func:`gather_candidates`.
        guide_embeddings: The guide's, same layout.
        offset: Row of this rank's first example among the candidates.
        begin: First anchor scored.
        end: One past the last anchor scored; None for all.

    Returns:
        Scalar, the mean over anchors ``begin .. end - 1``.
    """
    return gist_loss(
        embeddings[0],
        embeddings[1:],
        guide_embeddings[0],
        guide_embeddings[1:],
        temperature=settings.temperature,
        margin_strategy=settings.margin_strategy,
        margin=settings.margin,
        contrast_anchors=settings.contrast_anchors,
        contrast_positives=settings.contrast_positives,
        offset=offset,
        begin=begin,
        end=end,
    )
