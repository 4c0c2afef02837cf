"""MegaBatchMarginLoss: a margin loss against the hardest in-batch negative, over very large batches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.cached import CachedLoss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional import contrastive as functional
from embedforge.losses.minibatch import check_mini_batch_options

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["MegaBatchMarginLoss"]


class MegaBatchMarginLoss(CachedLoss):
    r"""Margin loss of each (anchor, positive) pair against the hardest negative mined from the batch (ParaNMT).

    For each anchor ``a_i`` the negative is the most similar positive of another pair, ``p_j`` with
    ``j = argmax_{j != i} cos(a_i, p_j)``; the loss is then a triplet-style margin loss::

        loss = mean_i [ max(0, positive_margin - cos(a_i, p_i)) + max(0, cos(a_i, p_j) - negative_margin) ]

    The larger the batch, the harder the mined negatives, so this loss is meant for batches of 500 or more.
    ``use_mini_batched_version=True`` (the default) makes that affordable with GradCache: the inputs are embedded
    in mini-batches of ``mini_batch_size`` (or ``mini_batch_num_tokens`` tokens) twice, once without a graph to
    compute the loss and the gradients with respect to the embeddings, then again with a graph during
    ``backward()``, replaying the RNG so dropout matches. The value and gradients are those of the plain version
    (which embeds the whole batch at once) at the cost of a second forward pass; the similarity matrix is also built
    ``mini_batch_size`` anchors at a time.

    ========================  ======
    Inputs                    Labels
    ========================  ======
    (anchor, positive) pairs  none
    ========================  ======

    When to use: paraphrase or translation pairs with very large batches. Use ``BatchSamplers.NO_DUPLICATES`` so
    that no mined negative is in fact a duplicate of the positive.

    Related: :class:`MultipleNegativesRankingLoss` uses every in-batch negative through a softmax rather than
    the hardest one through a margin; ``CachedMultipleNegativesRankingLoss`` is its GradCache form. The math is
    :func:`embedforge.losses.functional.contrastive.mega_batch_margin_loss`.

    References:
        Wieting & Gimpel, "ParaNMT-50M", ACL 2018, https://aclanthology.org/P18-1042; Gao et al., "Scaling Deep
        Contrastive Learning Batch Size under Memory Limited Setup" (GradCache), https://huggingface.co/papers/2101.06983.

    Args:
        model: The model to train.
        positive_margin: Positive pairs should have a cosine similarity above this.
        negative_margin: The hardest negative should have a cosine similarity below this.
        use_mini_batched_version: Embed in mini-batches with GradCache (bounded memory, about 2x the compute).
            Not possible with a StaticEmbedding model, whose inputs cannot be split.
        mini_batch_size: Rows per embedding mini-batch and anchors per block of the similarity matrix.
        mini_batch_num_tokens: If set, embedding mini-batches are filled up to this many non-padding tokens instead
            of ``mini_batch_size`` rows.
        show_progress_bar: Show a progress bar over the mini-batches.

    Raises:
        ValueError: For a non-positive ``mini_batch_num_tokens``, or the mini-batched version on a StaticEmbedding
            model.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import MegaBatchMarginLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = MegaBatchMarginLoss(model, mini_batch_size=32)  # doctest: +SKIP
        >>> anchors = model.tokenize([f"This is sentence number {i}" for i in range(500)])  # doctest: +SKIP
        >>> positives = model.tokenize([f"This is sentence number {i}" for i in range(1, 501)])  # doctest: +SKIP
        >>> loss([anchors, positives], None).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(min_texts=2, max_texts=2, label=LabelKind.NONE, description="(anchor, positive) pairs")
    config_keys = ("positive_margin", "negative_margin", "mini_batch_size", "mini_batch_num_tokens")
    citation = """
@inproceedings{wieting-gimpel-2018-paranmt,
    title = "{P}ara{NMT}-50{M}: Pushing the Limits of Paraphrastic Sentence Embeddings with Millions of Machine Translations",
    author = "Wieting, John and Gimpel, Kevin",
    editor = "Gurevych, Iryna and Miyao, Yusuke",
    booktitle = "Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics (Volume 1: Long Papers)",
    month = jul,
    year = "2018",
    address = "Melbourne, Australia",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/P18-1042",
    doi = "10.18653/v1/P18-1042",
    pages = "451--462",
}
"""  # noqa: E501

    def __init__(
        self,
        model: EmbeddingModel,
        positive_margin: float = 0.8,
        negative_margin: float = 0.3,
        use_mini_batched_version: bool = True,
        mini_batch_size: int = 50,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        if use_mini_batched_version:
            super().__init__(model, mini_batch_size, mini_batch_num_tokens, show_progress_bar)
        else:
            # The plain version embeds whole batches, so it skips the GradCache checks (any model can run it).
            Loss.__init__(self, model)
            check_mini_batch_options(type(self).__name__, mini_batch_size, mini_batch_num_tokens)
            self.mini_batch_size = mini_batch_size
            self.mini_batch_num_tokens = mini_batch_num_tokens
            self.show_progress_bar = show_progress_bar
        self.positive_margin = positive_margin
        self.negative_margin = negative_margin
        self.use_mini_batched_version = use_mini_batched_version

    @property
    def uses_gradient_cache(self) -> bool:  # type: ignore[override]
        """Whether the backward pass re-embeds the inputs (only with ``use_mini_batched_version``)."""
        return self.use_mini_batched_version

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """Embed both columns (in mini-batches with GradCache, or at once) and compute the loss.

        Args:
            sentence_features: The anchor and positive columns, ``input_ids`` ``(batch, seq)``….
            labels: Ignored (the negatives are mined from the batch).

        Returns:
            Scalar loss.

        Raises:
            ValueError: Unless there are exactly two columns.
        """
        features = list(sentence_features)
        if len(features) != 2:
            raise ValueError(
                f"MegaBatchMarginLoss expects exactly 2 text columns (anchor, positive), got {len(features)}. It "
                "mines each anchor's negative from the other positives of the batch, so it takes no negative column; "
                "use MultipleNegativesRankingLoss for explicit negatives."
            )
        if self.use_mini_batched_version:
            return self.forward_cached(features, labels)
        return self.calculate_loss([[column] for column in embed_columns(self.model, features)], labels)

    def calculate_loss(
        self,
        reps: list[list[Tensor]],
        labels: Tensor | None = None,
        *,
        extras: list[list[Any]] | None = None,
        with_backward: bool = False,
    ) -> Tensor:
        """The loss of per-mini-batch embeddings, scoring ``mini_batch_size`` anchors at a time when that saves memory.

        Args:
            reps: ``[anchor mini-batches, positive mini-batches]``, each ``(mini_batch, dim)``.
            labels: Ignored (the negatives are mined from the batch).
            extras: Ignored.
            with_backward: Back-propagate each block of anchors as soon as it is scored, and return the detached
                total (GradCache's second step).

        Returns:
            Scalar loss.
        """
        del labels, extras
        anchors, positives = torch.cat(reps[0]), torch.cat(reps[1])
        batch_size = anchors.size(0)
        # Blocks only save memory if each block's graph is freed right away (back-propagated, or never built).
        step = self.mini_batch_size if with_backward or not torch.is_grad_enabled() else batch_size
        total = anchors.new_zeros(())
        for begin in range(0, batch_size, step):
            terms = functional.mega_batch_margin_terms(
                anchors[begin : begin + step],
                positives,
                begin,
                positive_margin=self.positive_margin,
                negative_margin=self.negative_margin,
            )
            block = terms.sum() / batch_size
            if with_backward:
                block.backward()
                block = block.detach()
            total = total + block
        return total

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: ``(batch, dim)`` anchors and positives.
            labels: Ignored.

        Returns:
            Scalar loss.
        """
        return functional.mega_batch_margin_loss(
            embeddings[0], embeddings[1], positive_margin=self.positive_margin, negative_margin=self.negative_margin
        )
