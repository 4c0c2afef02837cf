"""CachedMultipleNegativesRankingLoss for cross-encoders: MultipleNegativesRankingLoss on the GradCache engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.cross_encoder.losses.multiple_negatives_ranking import (
    RANKING_INPUT_SPEC,
    activation_name,
    check_num_negatives,
    check_ranking_columns,
    in_batch_ranking_loss,
    sampled_negative_columns,
)
from embedforge.losses.cached import GradCacheLoss, MiniBatches
from embedforge.model.batching import to_device
from embedforge.model.protocols import ScoringModel

if TYPE_CHECKING:
    from embedforge.models.base import Features

__all__ = ["CachedMultipleNegativesRankingLoss"]


class CachedMultipleNegativesRankingLoss(GradCacheLoss, CrossEncoderLoss):
    r"""MultipleNegativesRankingLoss with a gradient cache: the same value and gradients, memory of one mini-batch.

    The loss is exactly :class:`~embedforge.cross_encoder.losses.MultipleNegativesRankingLoss` (the same candidates,
    sampled the same way; ``f = activation_fn``, ``τ = scale``)::

        loss = mean_i -log softmax( τ · f([s(a_i, p_i), s(a_i, r_i1), ..., s(a_i, n_ih)]) )[0]

    but it is computed with GradCache (Gao et al. 2021), on the engine of the bi-encoder ``Cached*`` losses
    (:class:`embedforge.losses.cached.GradCacheLoss`), where a mini-batch's "embeddings" are the logits of its
    pairs. All ``batch · (1 + k + h)`` (anchor, candidate) pairs are laid end to end and then:

    1. the model scores them ``mini_batch_size`` pairs at a time without gradients, remembering each
       mini-batch's RNG state;
    2. the loss is computed from those logits and back-propagated to them only: their gradients are the cache;
    3. when the returned loss is back-propagated, each mini-batch is scored again with gradients under its saved
       RNG state (identical dropout) and its cached gradient flows into the model.

    Only one mini-batch of activations is alive at a time, so the batch size (the number of in-batch negatives
    to draw from) is no longer bounded by memory; compute is roughly 1.2–2x that of the plain loss.

    =================================================  ======  =============
    Inputs                                             Labels  ``num_labels``
    =================================================  ======  =============
    (anchor, positive) pairs                           none    1
    (anchor, positive, negative) triplets              none    1
    (anchor, positive, negative_1, ..., negative_n)    none    1
    =================================================  ======  =============

    When to use: as MultipleNegativesRankingLoss, with a large ``per_device_train_batch_size`` and the largest
    ``mini_batch_size`` that fits; ``BatchSamplers.NO_DUPLICATES`` avoids false negatives.

    Related: :class:`~embedforge.cross_encoder.losses.MultipleNegativesRankingLoss` (one pass, more memory); the
    bi-encoder :class:`embedforge.losses.CachedMultipleNegativesRankingLoss`.

    References:
        Henderson et al. 2017, https://arxiv.org/abs/1705.00652; Gao et al. 2021, "Scaling Deep Contrastive
        Learning Batch Size under Memory Limited Setup", https://arxiv.org/abs/2101.06983.

    Args:
        model: A cross-encoder with ``num_labels=1``.
        num_negatives: In-batch negatives sampled per anchor; None for all of them; 0 for none.
        scale: Multiplies the activated scores; 0 leaves them unscaled.
        activation_fn: Applied to the logits before scaling; :class:`torch.nn.Sigmoid` by default, None for none.
        mini_batch_size: Pairs scored per forward pass; it bounds memory, not the batch size.
        show_progress_bar: Show a progress bar over the mini-batches.

    Raises:
        ValueError: If ``model`` is not a cross-encoder or has more than one label, for a negative
            ``num_negatives`` or a non-positive ``mini_batch_size``.

    Example:
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import CachedMultipleNegativesRankingLoss
        >>> model = CrossEncoder("path/to/model")  # doctest: +SKIP
        >>> loss = CachedMultipleNegativesRankingLoss(model, num_negatives=None, mini_batch_size=16)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> answers = ["Pandas are a kind of bear.", "The capital of France is Paris."]
        >>> loss([queries, answers], None).backward()  # replays the mini-batches  # doctest: +SKIP
    """

    input_spec = RANKING_INPUT_SPEC
    config_keys = ("scale", "num_negatives", "activation_fn", "mini_batch_size")

    def __init__(
        self,
        model: ScoringModel,
        num_negatives: int | None = 4,
        scale: float = 10.0,
        activation_fn: nn.Module | None = nn.Sigmoid(),  # noqa: B008 - sentence-transformers' signature
        mini_batch_size: int = 32,
        show_progress_bar: bool = False,
    ) -> None:
        super().__init__(model, mini_batch_size=mini_batch_size, show_progress_bar=show_progress_bar)
        self.num_negatives = check_num_negatives(type(self).__name__, num_negatives)
        self.scale = scale
        self.activation_fn = activation_fn

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None = None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """Sample the candidates, score every pair in mini-batches and return the loss.

        When gradients are enabled, back-propagating the returned loss replays the mini-batches with gradients.

        Args:
            inputs: ``[anchors, positives, negatives_1, ...]``, lists of ``batch`` texts.
            labels: Ignored (the positive is always the second column).
            prompt: Prompt prepended to every anchor, or None.
            task: Routing task for models with a Router, or None.

        Returns:
            A scalar tensor.

        Raises:
            ValueError: With fewer than 2 columns or columns of different lengths.
        """
        check_ranking_columns(type(self).__name__, inputs)
        anchors = inputs[0]
        columns = [inputs[1], *sampled_negative_columns(inputs[1:], self.num_negatives), *inputs[2:]]
        pairs = [(anchor, document) for column in columns for anchor, document in zip(anchors, column, strict=True)]
        kwargs: dict[str, Any] = {"prompt": prompt} if task is None else {"prompt": prompt, "task": task}
        features = to_device(self.model.preprocess(pairs, **kwargs), self.model.device)
        positives = torch.zeros(len(anchors), dtype=torch.long, device=self.model.device)
        return self.forward_cached([features], positives)

    def embed_features(self, features: Features) -> Tensor:
        """The ``(mini_batch, 1)`` logits of one mini-batch of pairs."""
        return self.model(features)["scores"]

    def calculate_loss(
        self,
        reps: MiniBatches,
        labels: Tensor | None,
        *,
        extras: list[list[Any]] | None = None,
        with_backward: bool = False,
    ) -> Tensor:
        """The ranking loss from the mini-batches' logits (see GradCacheLoss.calculate_loss).

        Args:
            reps: One column: the ``(mini_batch, 1)`` logits of each mini-batch, the pairs of the positives first,
                then those of every sampled and hard-negative column.
            labels: ``(batch,)`` index of each anchor's positive among its candidates (0), as :meth:`forward`
                passes them; their number is the batch size.
            extras: Ignored.
            with_backward: Back-propagate the loss to ``reps`` and return it detached.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Without ``labels``.
        """
        del extras
        if labels is None:
            raise ValueError(
                "CachedMultipleNegativesRankingLoss.calculate_loss needs the (batch,) positive indices that forward "
                "passes as labels, got None. Call the loss itself rather than calculate_loss."
            )
        scores = torch.cat(reps[0]).view(-1, labels.numel()).T
        loss = in_batch_ranking_loss(scores, self.activation_fn, self.scale)
        if with_backward:
            loss.backward()
            return loss.detach()
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        """``scale``, ``num_negatives``, ``activation_fn`` (its dotted class name) and ``mini_batch_size``."""
        return {**super().get_config_dict(), "activation_fn": activation_name(self.activation_fn)}
