"""``CrossEncoder.predict`` in one process: length-sorted batches of pairs, scores back in input order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from embedforge.backend.backend_model import runtime_streams
from embedforge.model.batching import batch_plan, in_chunks, restore_order, run_in_batches, to_device

if TYPE_CHECKING:
    from embedforge.cross_encoder.model import CrossEncoder


@dataclass(frozen=True)
class PredictOptions:
    """The resolved options of one ``predict`` call; also what a pool worker receives with each chunk.

    Attributes:
        batch_size: Pairs per forward pass.
        prompt: Text prepended to the first element (the query) of every pair, or None.
        activation_fn: Applied to the logits (the model's ``activation_fn`` unless the call gave one); None for
            raw logits.
        apply_softmax: Softmax over the classes of models with several labels.
        device: Device to run on in this process; None: wherever the model is.
        show_progress_bar: Show a tqdm bar over batches.
        task: Routing task for models with a Router, or None.
        module_kwargs: Extra keyword arguments for the modules that declare them in ``forward_kwargs``.
        token_budget: Fill each forward pass up to ``batch_size`` times the longest pair's tokens (shorter pairs
            then share a pass; peak memory stays that of the first batch of ``batch_size`` longest pairs).
    """

    batch_size: int = 32
    prompt: str | None = None
    activation_fn: Callable[[Tensor], Tensor] | None = None
    apply_softmax: bool = False
    device: torch.device | None = None
    show_progress_bar: bool = False
    task: str | None = None
    module_kwargs: dict[str, Any] = field(default_factory=dict)
    token_budget: bool = True


def score_pairs(model: CrossEncoder, pairs: list[Any], options: PredictOptions) -> Tensor:
    """Score ``pairs`` in this process: ``(n,)`` for one label, ``(n, num_labels)`` otherwise, in input order."""
    model.eval()
    if options.device is not None and options.device != model.device:
        model.to(options.device)
    return in_chunks(pairs, lambda chunk: _score_chunk(model, chunk, options), as_tensor=True)


def _score_chunk(model: CrossEncoder, pairs: list[Any], options: PredictOptions) -> Tensor:
    plan = batch_plan(model.input_module, pairs, options.prompt, options.task, options.module_kwargs)
    task_kwargs = {**({"task": options.task} if options.task is not None else {}), **options.module_kwargs}
    num_labels = model.num_labels

    def score_batch(indices: np.ndarray) -> Tensor:
        features = to_device(plan.make_features(indices), model.device)
        with torch.inference_mode():
            scores = model(features, **task_kwargs)["scores"]
        return finish_scores(scores, options, num_labels)

    slices = plan.slices(options.batch_size, token_budget=options.token_budget)
    parts = run_in_batches(slices, score_batch, options.show_progress_bar, runtime_streams(model))
    return restore_order(torch.cat(parts) if parts else torch.empty(0), plan.order)


def finish_scores(scores: Tensor, options: PredictOptions, num_labels: int) -> Tensor:
    """Logits ``(batch, num_labels)`` → what ``predict`` returns for the batch.

    Sub-float32 logits are upcast (ties broken), the activation applied, one-label scores squeezed to
    ``(batch,)``, and a softmax over classes applied if asked (it has no effect on one label).
    """
    if torch.is_floating_point(scores) and torch.finfo(scores.dtype).bits < 32:
        scores = scores.float()
    if options.activation_fn is not None:
        scores = options.activation_fn(scores)
    if num_labels == 1 and scores.ndim > 1:
        scores = scores.squeeze(-1)
    if options.apply_softmax and scores.ndim > 1:
        scores = torch.nn.functional.softmax(scores, dim=1)
    return scores.detach()
