"""The steps of ``SentenceTransformer.encode``: prompt choice, length-sorted batching, output conversion."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

logger = logging.getLogger(__name__)

OutputValue = Literal["sentence_embedding", "token_embeddings"] | None
Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
PRECISIONS: tuple[str, ...] = ("float32", "int8", "uint8", "binary", "ubinary")


def resolve_prompt(
    prompts: dict[str, str], default_prompt_name: str | None, prompt_name: str | None, prompt: str | None
) -> str | None:
    """Pick the prompt text for one ``encode`` call: ``prompt`` wins, then ``prompt_name``, then the default.

    Raises:
        ValueError: If ``prompt_name`` is not one of the model's prompts.
    """
    if prompt is not None:
        if prompt_name is not None:
            logger.warning("encode got both prompt and prompt_name; using prompt and ignoring prompt_name.")
        return prompt
    if prompt_name is not None:
        if prompt_name not in prompts:
            raise ValueError(
                f"encode expects prompt_name to be one of the model's prompts {sorted(prompts)}, got "
                f"{prompt_name!r}. Pass one of those names, pass the text itself as prompt=, or set "
                "model.prompts[name] = text first."
            )
        return prompts[prompt_name]
    if default_prompt_name is not None:
        return prompts.get(default_prompt_name)
    return None


def text_length(text: str | Sequence[str]) -> int:
    """Characters in a text, or summed over the parts of a text pair (the sort key for batching)."""
    if isinstance(text, str):
        return len(text)
    return sum(len(part) for part in text)


def longest_first_order(texts: Sequence[str | Sequence[str]]) -> np.ndarray:
    """Indices that sort texts from longest to shortest, so each batch holds texts of similar length."""
    return np.argsort([-text_length(text) for text in texts])


@dataclass(frozen=True)
class BatchOptions:
    """What ``encode`` asks of each batch.

    Attributes:
        batch_size: Texts per forward pass.
        prompt: Text prepended to every input, or None.
        output_value: ``"sentence_embedding"``, ``"token_embeddings"`` or None (all outputs).
        device: Device to run on.
        normalize: L2-normalize sentence embeddings (after truncation).
        truncate_dim: Keep the first ``truncate_dim`` dimensions, or None.
        show_progress_bar: Show a tqdm bar over batches.
        task: ``encode_query``/``encode_document`` task name for routing modules, or None.
    """

    batch_size: int
    prompt: str | None
    output_value: OutputValue
    device: torch.device
    normalize: bool
    truncate_dim: int | None
    show_progress_bar: bool
    task: str | None = None


def embed_in_batches(
    order: np.ndarray, embed_batch: Callable[[np.ndarray], Any], options: BatchOptions
) -> list[Any] | Tensor:
    """Call ``embed_batch`` on consecutive slices of ``order`` (indices of the texts, longest first).

    Returns:
        For sentence embeddings, one tensor ``(len(order), dim)`` in the order of ``order``; otherwise a list
        in that order.
    """
    starts = range(0, len(order), options.batch_size)
    if options.show_progress_bar:
        from tqdm.autonotebook import tqdm

        starts = tqdm(starts, desc="Batches")
    parts = [embed_batch(order[start : start + options.batch_size]) for start in starts]
    if options.output_value == "sentence_embedding":
        return torch.cat(parts) if parts else torch.empty(0)
    return [item for part in parts for item in part]


def sentence_embeddings(output: dict[str, Any], options: BatchOptions) -> Tensor:
    """Take ``sentence_embedding`` ``(batch, dim)`` from a forward output, truncated then normalized, detached."""
    embeddings = output["sentence_embedding"]
    if options.truncate_dim is not None:
        embeddings = embeddings[..., : options.truncate_dim]
    if options.normalize:
        embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=-1)
    return embeddings.detach()


def token_embeddings(output: dict[str, Any]) -> list[Tensor]:
    """Per-text token embeddings ``(n_tokens_i, dim)``, trailing padding cut off."""
    mask = output["attention_mask"]
    positions = torch.arange(mask.size(1), device=mask.device)
    last = torch.where(mask.bool(), positions, torch.zeros_like(positions)).max(dim=1).values
    return [emb[: int(end) + 1].detach() for emb, end in zip(output["token_embeddings"], last, strict=True)]


def all_outputs(output: dict[str, Any]) -> list[dict[str, Any]]:
    """Split a batch's outputs into one dict per text; values without a batch dimension are shared as is."""
    batch = len(output["sentence_embedding"]) if "sentence_embedding" in output else len(output["input_ids"])

    def item(value: Any, index: int) -> Any:
        if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == batch:
            return value[index].detach()
        return value

    return [{name: item(value, index) for name, value in output.items()} for index in range(batch)]


def restore_order(items: list[Any] | Tensor, order: np.ndarray) -> list[Any] | Tensor:
    """Undo :func:`longest_first_order` on a tensor (rows) or a list."""
    inverse = np.argsort(order)
    if isinstance(items, Tensor):
        return items[torch.as_tensor(inverse, device=items.device)] if len(inverse) else items
    return [items[i] for i in inverse]


def to_numpy(embeddings: Tensor) -> np.ndarray:
    """CPU numpy copy; bfloat16 becomes float32 (numpy has no bfloat16)."""
    if embeddings.dtype == torch.bfloat16:
        embeddings = embeddings.float()
    return embeddings.cpu().numpy()


def check_precision(precision: str) -> None:
    """Raise a clear ValueError for an unknown ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"encode expects precision in {PRECISIONS}, got {precision!r}. Use 'float32' for plain embeddings "
            "or one of the quantized precisions."
        )
