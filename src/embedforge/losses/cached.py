"""The one GradCache engine behind every ``Cached*`` loss (Gao et al. 2021, https://arxiv.org/abs/2101.06983).

In-batch-negative losses couple every example of a batch, so a batch cannot simply be split into smaller ones.
GradCache bounds memory anyway, in three steps:

1. Embed every column in mini-batches **without** gradients, remembering each mini-batch's RNG state.
2. Compute the loss on those (detached) embeddings and back-propagate it **to the embeddings only**: their
   gradients are the cache. The loss itself may also be computed in chunks (each chunk back-propagated at once).
3. When the returned loss is back-propagated, re-embed each mini-batch **with** gradients, under the same RNG
   state (identical dropout), and back-propagate the cached gradient of its embeddings into the model.

Only one mini-batch of activations is alive at a time, so memory is that of ``mini_batch_size``, while the value
and the gradients are those of the full batch. Step 3 runs in a hook on the returned loss tensor, so any code that
calls ``loss.backward()`` (the trainer's ``accelerator.backward(loss)``, a gradient scaler, gradient
accumulation) triggers it; the gradient reaching the loss scales every mini-batch.

A bi-encoder loss built on this engine subclasses :class:`CachedLoss` (another family's loss subclasses
:class:`GradCacheLoss` and its family's loss base), implements ``calculate_loss`` (the loss as a function of
per-mini-batch embeddings) and calls ``forward_cached`` in ``forward``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
import tqdm
from torch import Tensor, nn

from embedforge.losses.base import BaseLoss, Loss
from embedforge.losses.cached_replay import AutocastState, CachedPass, replay
from embedforge.losses.minibatch import check_mini_batch_options, minibatch_ranges, slice_features
from embedforge.losses.rand_context import RandContext

if TYPE_CHECKING:
    from embedforge.model.sentence_transformer import SentenceTransformer
    from embedforge.models.base import Features

__all__ = ["CachedLoss", "CalculateLoss", "EmbedFn", "GradCacheLoss", "MiniBatches"]

MiniBatches = list[list[Tensor]]
"""Per column, the embeddings ``(mini_batch, dim)`` of each of its mini-batches, in order."""

EmbedFn = Callable[["Features"], Tensor]
"""Runs the model on one mini-batch's features and returns its ``(mini_batch, dim)`` embeddings."""


class CalculateLoss(Protocol):
    """The signature of :meth:`GradCacheLoss.calculate_loss` (and of wrappers such as MatryoshkaLoss's)."""

    def __call__(
        self,
        reps: MiniBatches,
        labels: Tensor | None,
        *,
        extras: list[list[Any]] | None = None,
        with_backward: bool = False,
    ) -> Tensor:
        """Loss of the whole batch from its mini-batch embeddings; see :meth:`GradCacheLoss.calculate_loss`."""
        ...


class GradCacheLoss(BaseLoss):
    """The GradCache engine of every model family: the three-step forward/backward of the module docstring.

    A mini-batch is "embedded" into whatever :meth:`embed_features` returns per example: sentence embeddings
    (:class:`CachedLoss`), a cross-encoder's logits (its ``CachedMultipleNegativesRankingLoss``). Put the family's
    loss base after this class (``class CachedLoss(GradCacheLoss, Loss)``) so ``super().__init__`` reaches it.

    Args:
        model: The model to train.
        mini_batch_size: Examples run through the model at once; it bounds memory, not the effective batch size.
        mini_batch_num_tokens: If set, mini-batches are packed up to this many non-padding tokens instead of
            ``mini_batch_size`` examples (an example longer than the budget forms its own mini-batch).
        show_progress_bar: Show progress bars over the mini-batches.

    Raises:
        ValueError: For non-positive mini-batch settings.
    """

    uses_gradient_cache: ClassVar[bool] = True

    def __init__(
        self,
        model: Any,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        check_mini_batch_options(type(self).__name__, mini_batch_size, mini_batch_num_tokens)
        super().__init__(model)
        self.mini_batch_size = mini_batch_size
        self.mini_batch_num_tokens = mini_batch_num_tokens
        self.show_progress_bar = show_progress_bar
        self._calculate_wrappers: list[Callable[[CalculateLoss], CalculateLoss]] = []
        self._embed_wrappers: list[Callable[[EmbedFn], EmbedFn]] = []

    # ---------------------------------------------------------- for subclasses
    @abstractmethod
    def calculate_loss(
        self,
        reps: MiniBatches,
        labels: Tensor | None,
        *,
        extras: list[list[Any]] | None = None,
        with_backward: bool = False,
    ) -> Tensor:
        """The loss of the whole batch, computed from the embeddings of its mini-batches.

        Args:
            reps: Per column, ``(mini_batch, dim)`` embeddings of each mini-batch; leaves that require grad in
                training.
            labels: The batch labels, or None.
            extras: Per column and mini-batch, what :meth:`embed_extras` returned (e.g. a guide's embeddings).
            with_backward: Back-propagate the loss to ``reps`` (chunk by chunk if the loss is chunked) and return
                it detached, so no part of the loss graph outlives its backward pass.

        Returns:
            Scalar loss.
        """

    @abstractmethod
    def embed_features(self, features: Features) -> Tensor:
        """Run the model on one mini-batch (a slice of a column's features) and return one row per example.

        Args:
            features: The mini-batch's features; the model may add its outputs to this dict.

        Returns:
            ``(mini_batch, dim)``: sentence embeddings, logits, or any per-example tensor the loss is computed from.
        """

    def embed_extras(self, features: Features) -> Any:
        """Anything else to compute per mini-batch during the no-gradient pass; None by default.

        Args:
            features: The mini-batch's features as sliced (without the model's outputs).
        """
        del features
        return None

    # ------------------------------------------------------------------ engine
    def embed_minibatch(
        self,
        features: Features,
        *,
        with_grad: bool,
        random_state: RandContext | None = None,
        embed: EmbedFn | None = None,
    ) -> Tensor:
        """Run the model on one mini-batch (a slice from :func:`slice_features`) and return its embeddings.

        Args:
            features: The mini-batch's features; the model may add outputs to this dict.
            with_grad: Build the autograd graph (the replay pass) or not (the first pass).
            random_state: RNG snapshot to run under (replay); None runs with the current RNG.
            embed: The embedding function of this pass (see :meth:`wrapped_embedding`); default:
                :meth:`embed_features`.

        Returns:
            ``(mini_batch, dim)`` embeddings.
        """
        rng = random_state if random_state is not None else nullcontext()
        with rng, torch.set_grad_enabled(with_grad):
            return (embed or self.embed_features)(features)

    @contextmanager
    def wrapped_embedding(self, wrap: Callable[[EmbedFn], EmbedFn]) -> Iterator[None]:
        """Within the block, :meth:`forward_cached` embeds each mini-batch with ``wrap(embed)`` (both passes).

        This is how AdaptiveLayerLoss caches several layers at once: its embedding function returns the final
        and the sampled prior layers' embeddings side by side, ``(mini_batch, layers * dim)``, and its
        :meth:`wrapped_calculation` splits them again. The function is captured when ``forward`` runs, so the
        replay in ``backward`` (after the block has ended) embeds the same way.

        Args:
            wrap: Takes the current embedding function, returns the one to use.
        """
        self._embed_wrappers.append(wrap)
        try:
            yield
        finally:
            self._embed_wrappers.pop()

    @contextmanager
    def wrapped_calculation(self, wrap: Callable[[CalculateLoss], CalculateLoss]) -> Iterator[None]:
        """Within the block, :meth:`forward_cached` computes the loss with ``wrap(calculate_loss)``.

        This is how loss modifiers act on the cached embeddings: MatryoshkaLoss wraps the calculation so that it
        runs once per truncated dimension. The wrapper is only needed during ``forward`` (the backward hook never
        recomputes the loss). Nested blocks compose: the outermost block's wrapper is called first and calls the
        inner ones (AdaptiveLayerLoss splits the layers, then MatryoshkaLoss truncates each).

        Args:
            wrap: Takes the current loss calculation, returns the one to use.
        """
        self._calculate_wrappers.append(wrap)
        try:
            yield
        finally:
            self._calculate_wrappers.pop()

    def forward_cached(self, sentence_features: Iterable[Features], labels: Tensor | None) -> Tensor:
        """Steps 1 and 2 of GradCache; step 3 is hooked on the returned loss (see the module docstring).

        Args:
            sentence_features: One tokenized column per text input, ``(batch, seq_len)`` tensors.
            labels: The batch labels, or None.

        Returns:
            Scalar loss. When gradients are enabled, back-propagating it re-embeds every mini-batch with
            gradients and accumulates the full-batch parameter gradients.

        Raises:
            ValueError: If the loss did not use the embeddings of some column.
        """
        calculate: CalculateLoss = self.calculate_loss
        for wrap in reversed(self._calculate_wrappers):
            calculate = wrap(calculate)
        embed: EmbedFn = self.embed_features
        for embed_wrap in reversed(self._embed_wrappers):
            embed = embed_wrap(embed)
        features = list(sentence_features)
        training = torch.is_grad_enabled()
        # Boundaries first: modules may edit features in place, and the replay must reuse these exact ranges.
        ranges = [minibatch_ranges(column, self.mini_batch_size, self.mini_batch_num_tokens) for column in features]
        reps, extras, states = self._embed_without_grad(features, ranges, embed, keep_random_states=training)
        if not training:
            return calculate(reps, labels, extras=extras)
        value = calculate(reps, labels, extras=extras, with_backward=True)
        gradients = [[rep.grad for rep in column] for column in reps]
        _check_every_column_used(type(self).__name__, gradients)
        loss = value.detach().requires_grad_()
        cached = CachedPass(features, ranges, states, gradients, AutocastState.current(features), embed)
        loss.register_hook(partial(replay, owner=self, cached=cached))
        return loss

    def _embed_without_grad(
        self, features: list[Features], ranges: list[list[tuple[int, int]]], embed: EmbedFn, keep_random_states: bool
    ) -> tuple[MiniBatches, list[list[Any]], list[list[RandContext]]]:
        """Step 1: embed every mini-batch of every column without gradients (and run :meth:`embed_extras`)."""
        reps: MiniBatches = []
        extras: list[list[Any]] = []
        states: list[list[RandContext]] = []
        for column, column_ranges in zip(features, ranges, strict=True):
            column_reps, column_extras, column_states = [], [], []
            for minibatch in self._minibatches(column, column_ranges):
                if keep_random_states:
                    column_states.append(RandContext(*minibatch.values()))
                pristine = dict(minibatch)  # the model adds its outputs to the dict it is given
                embeddings = self.embed_minibatch(minibatch, with_grad=False, embed=embed)
                column_reps.append(embeddings.detach().requires_grad_(keep_random_states))
                with torch.no_grad():
                    column_extras.append(self.embed_extras(pristine))
            reps.append(column_reps)
            extras.append(column_extras)
            states.append(column_states)
        return reps, extras, states

    def _minibatches(self, column: Features, ranges: Sequence[tuple[int, int]]) -> Iterator[Features]:
        """The mini-batch slices of one column, with a progress bar if asked."""
        progress = tqdm.tqdm(ranges, desc="Embed mini-batches", disable=not self.show_progress_bar, leave=False)
        for begin, end in progress:
            yield slice_features(column, begin, end)

    def loss_chunks(self, batch_size: int) -> Iterator[tuple[int, int]]:
        """``(begin, end)`` row ranges of ``mini_batch_size`` rows for computing a loss in chunks."""
        starts = range(0, batch_size, self.mini_batch_size)
        for begin in tqdm.tqdm(starts, desc="Calculating loss", disable=not self.show_progress_bar, leave=False):
            yield begin, min(begin + self.mini_batch_size, batch_size)


class CachedLoss(GradCacheLoss, Loss):
    """Base class of the bi-encoder GradCache losses: mini-batches are embedded into ``sentence_embedding``.

    Args:
        model: The model to train. Its input module must produce per-example tensors (not a StaticEmbedding).
        mini_batch_size: As in :class:`GradCacheLoss`.
        mini_batch_num_tokens: As in :class:`GradCacheLoss`.
        show_progress_bar: As in :class:`GradCacheLoss`.

    Raises:
        ValueError: For non-positive mini-batch settings or a model whose inputs cannot be split.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        super().__init__(model, mini_batch_size, mini_batch_num_tokens, show_progress_bar)
        _check_splittable_inputs(model, type(self).__name__)

    def embed_features(self, features: Features) -> Tensor:
        """The model's ``sentence_embedding`` ``(mini_batch, dim)`` of one mini-batch."""
        return self.model(features)["sentence_embedding"]


def _check_every_column_used(owner: str, gradients: Sequence[Sequence[Tensor | None]]) -> None:
    unused = [str(index) for index, column in enumerate(gradients) if any(grad is None for grad in column)]
    if unused:
        raise ValueError(
            f"{owner} did not use the embeddings of input column(s) {', '.join(unused)}: they got no gradient. "
            "Every column is embedded twice by the gradient cache, so remove the unused column(s) from the dataset."
        )


def _check_splittable_inputs(model: nn.Module, owner: str) -> None:
    """Reject models whose features have no batch dimension (StaticEmbedding, also behind a Router)."""
    from embedforge.models.router import Router
    from embedforge.models.static_embedding import StaticEmbedding

    if not isinstance(model, nn.Sequential) or len(model) == 0:
        return
    first = model[0]
    inputs = [route[0] for route in first.sub_modules.values()] if isinstance(first, Router) else [first]
    if any(isinstance(module, StaticEmbedding) for module in inputs):
        raise ValueError(
            f"{owner} cannot split the inputs of a StaticEmbedding model into mini-batches (its features are one "
            "flat bag of token ids). Use the non-cached loss instead; static models are cheap enough to run whole "
            "batches."
        )
