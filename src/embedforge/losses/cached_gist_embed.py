"""CachedGISTEmbedLoss: GISTEmbedLoss computed with a gradient cache (large batches, small memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind
from embedforge.losses.cached import CachedLoss, MiniBatches
from embedforge.losses.cached_multiple_negatives_ranking import GRADCACHE_CITATION
from embedforge.losses.functional.gist import MarginStrategy, check_margin_strategy
from embedforge.losses.gist_embed import GIST_CITATION, gather_candidates, settings_gist_loss
from embedforge.losses.guide import GuidedInputs

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["CachedGISTEmbedLoss"]


class CachedGISTEmbedLoss(CachedLoss):
    r"""GISTEmbedLoss with a gradient cache: guide-filtered in-batch negatives at batch sizes beyond memory.

    The loss is that of :class:`~embedforge.losses.GISTEmbedLoss` — cosine scores of each anchor against every
    positive, other anchors (``contrast_anchors``), other positives (``contrast_positives``) and every negative,
    minus the candidates the guide finds at least as similar as the positive (within ``margin``)::

        loss = mean_i [ logsumexp_c (s_ic / temperature) - s(a_i, p_i) / temperature ]

    computed with GradCache (see :mod:`embedforge.losses.cached`): both models embed ``mini_batch_size`` examples
    at a time without gradients, the loss (in chunks of ``mini_batch_size`` anchors) gives the gradients of the
    embeddings, and a second pass of the trained model per mini-batch back-propagates them. The guide runs only
    in the first pass. Unlike GISTEmbedLoss, any number of negative columns is accepted.

    =================================================  ======
    Inputs                                             Labels
    =================================================  ======
    (anchor, positive) pairs                           none
    (anchor, positive, negative) triplets              none
    (anchor, positive, negative_1, ..., negative_n)    none
    =================================================  ======

    When to use: GISTEmbed's filtering of false negatives together with the large batches in-batch-negative
    losses profit from. Use ``BatchSamplers.NO_DUPLICATES``.

    Related: ``GISTEmbedLoss`` (one pass); ``CachedMultipleNegativesRankingLoss`` (no guide). ``MatryoshkaLoss``
    works on top of it (the guide's embeddings are not truncated).

    References:
        Solatorio 2024, GISTEmbed, https://arxiv.org/abs/2402.16829; Gao et al. 2021 (GradCache),
        https://arxiv.org/abs/2101.06983.

    Args:
        model: The model to train.
        guide: The guide model (run without gradients, on the same or retokenized inputs).
        temperature: Divides the cosine scores.
        mini_batch_size: Examples per forward pass (and anchors per loss chunk); bounds memory.
        mini_batch_num_tokens: If set, forward mini-batches hold up to this many non-padding tokens instead.
        show_progress_bar: Show progress over mini-batches and loss chunks.
        margin_strategy: ``"absolute"`` or ``"relative"``.
        margin: False-negative margin (see GISTEmbedLoss).
        contrast_anchors: Add anchor–anchor negatives.
        contrast_positives: Add positive–positive negatives.
        gather_across_devices: Use every torch.distributed rank's candidates.

    Raises:
        ValueError: For an unknown margin strategy, models without transformers tokenizers, non-positive
            mini-batch settings, or a StaticEmbedding model.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import CachedGISTEmbedLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> guide = SentenceTransformer("path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> loss = CachedGISTEmbedLoss(model, guide, mini_batch_size=64, margin=0.1)  # doctest: +SKIP
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
        "guide",
        "temperature",
        "mini_batch_size",
        "mini_batch_num_tokens",
        "margin_strategy",
        "margin",
        "contrast_anchors",
        "contrast_positives",
        "gather_across_devices",
    )
    citation = GIST_CITATION + GRADCACHE_CITATION

    def __init__(
        self,
        model: EmbeddingModel,
        guide: EmbeddingModel,
        temperature: float = 0.01,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
        margin_strategy: MarginStrategy = "absolute",
        margin: float = 0.0,
        contrast_anchors: bool = True,
        contrast_positives: bool = True,
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model, mini_batch_size, mini_batch_num_tokens, show_progress_bar)
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
        """Embed in mini-batches (model and guide) and return the loss; its backward runs the cached backward.

        Args:
            sentence_features: Anchor, positive and negative columns, ``input_ids`` ``(batch, seq)``….
            labels: Ignored.

        Returns:
            Scalar loss.

        Raises:
            ValueError: If fewer than two columns are given.
        """
        sentence_features = list(sentence_features)
        if len(sentence_features) < 2:
            raise ValueError(
                f"CachedGISTEmbedLoss needs at least 2 text columns (anchor, positive), got {len(sentence_features)}."
            )
        return self.forward_cached(sentence_features, labels)

    def embed_extras(self, features: Features) -> Tensor:
        """The guide's ``(mini_batch, guide_dim)`` embeddings of one mini-batch (first pass only)."""
        return self.guided_inputs.embed(features, self.guide)

    def calculate_loss(
        self,
        reps: MiniBatches,
        labels: Tensor | None,
        *,
        extras: list[list[Any]] | None = None,
        with_backward: bool = False,
    ) -> Tensor:
        """The GIST loss in chunks of ``mini_batch_size`` anchors (see CachedLoss.calculate_loss).

        Args:
            reps: Per column, ``(mini_batch, dim)`` embeddings: anchors, positives, then negatives.
            labels: Ignored.
            extras: Per column, the guide's ``(mini_batch, guide_dim)`` embeddings of each mini-batch.
            with_backward: Back-propagate each chunk to ``reps`` at once and return the detached sum.

        Returns:
            Scalar loss, the mean over this process's anchors.

        Raises:
            ValueError: Without the guide embeddings, or with fewer than two columns.
        """
        if extras is None or len(extras) != len(reps) or len(reps) < 2:
            raise ValueError(
                "CachedGISTEmbedLoss.calculate_loss needs at least 2 columns and the guide's embeddings of each "
                "(extras, as produced by embed_extras)."
            )
        embeddings = [torch.cat(column) for column in reps]
        guide_embeddings = [torch.cat(column) for column in extras]
        embeddings, guide_embeddings, offset = gather_candidates(self, embeddings, guide_embeddings)
        batch_size = embeddings[0].size(0)
        chunks = []
        for begin, end in self.loss_chunks(batch_size):
            chunk = settings_gist_loss(self, embeddings, guide_embeddings, offset, begin, end) * (end - begin)
            chunk = chunk / batch_size
            if with_backward:
                chunk.backward()
                chunk = chunk.detach()
            chunks.append(chunk)
        return torch.stack(chunks).sum()

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments (ST's keys); ``guide`` is the guide model itself, as in sentence-transformers."""
        return {**super().get_config_dict(), "guide": self.guide}
