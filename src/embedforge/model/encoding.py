"""``SentenceTransformer.encode`` end to end: where it runs, length-sorted batches, outputs, precision and types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from embedforge.backend.backend_model import runtime_streams
from embedforge.model.batching import batch_plan, in_chunks, restore_order, run_in_batches, to_device

if TYPE_CHECKING:
    from embedforge.model.encode_options import EncodeOptions
    from embedforge.model.multi_process import MultiProcessPool
    from embedforge.model.sentence_transformer import SentenceTransformer


def encode(
    model: SentenceTransformer,
    sentences: Any,
    options: EncodeOptions,
    pool: MultiProcessPool | None = None,
    devices: list[str] | None = None,
    chunk_size: int | None = None,
) -> np.ndarray | Tensor | list[Any]:
    """Embed one text or a list of texts: here, in ``pool``, or in a temporary pool over ``devices``.

    Returns:
        ``(n, dim)`` embeddings (one text gives ``(dim,)``) as ``options.output_type`` says, or lists for other
        ``output_value``.
    """
    if sentences is None:
        raise TypeError("encode needs the texts to embed as its first argument (sentences=).")
    single = isinstance(sentences, str) or not isinstance(sentences, Sequence)
    texts = [sentences] if single else list(sentences)
    embeddings = model.run_distributed(texts, options, pool, devices, chunk_size)
    return _finish(embeddings, options, single)


def embed_texts(model: SentenceTransformer, texts: list[Any], options: EncodeOptions) -> Tensor | list[Any]:
    """Embed ``texts`` in this process, in input order: a tensor ``(n, dim)`` or a list for other outputs."""
    model.eval()
    if options.device is not None and options.device != model.device:
        model.to(options.device)
    return in_chunks(
        texts, lambda chunk: _embed_chunk(model, chunk, options), as_tensor=options.output_value == "sentence_embedding"
    )


def _embed_chunk(model: SentenceTransformer, texts: list[Any], options: EncodeOptions) -> Tensor | list[Any]:
    forward_kwargs = options.forward_kwargs
    plan = batch_plan(model.input_module, texts, options.prompt, options.task, options.module_kwargs)

    def embed_batch(indices: np.ndarray) -> Tensor | list[Any]:
        features = to_device(plan.make_features(indices), model.device)
        with torch.inference_mode():
            output = model(features, **forward_kwargs)
        return _outputs(output, options)

    slices = plan.slices(options.batch_size)
    parts = run_in_batches(slices, embed_batch, options.show_progress_bar, runtime_streams(model))
    if options.output_value == "sentence_embedding":
        joined: Tensor | list[Any] = torch.cat(parts) if parts else torch.empty(0)
    else:
        joined = [item for part in parts for item in part]
    return restore_order(joined, plan.order)


def _outputs(output: dict[str, Any], options: EncodeOptions) -> Tensor | list[Any]:
    """What one batch contributes: sentence embeddings ``(batch, dim)``, per-text token embeddings, or dicts."""
    if options.output_value == "sentence_embedding":
        embeddings = output["sentence_embedding"]
        if options.truncate_dim is not None:
            embeddings = embeddings[..., : options.truncate_dim]
        if options.normalize:
            embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=-1)
        return embeddings.detach()
    if options.truncate_dim is not None and "sentence_embedding" in output:
        output["sentence_embedding"] = output["sentence_embedding"][..., : options.truncate_dim]
    if options.output_value == "token_embeddings":
        return _token_embeddings(output)
    return _all_outputs(output)


def _token_embeddings(output: dict[str, Any]) -> list[Tensor]:
    """Per-text token embeddings ``(n_tokens_i, dim)``, trailing padding cut off."""
    mask = output["attention_mask"]
    positions = torch.arange(mask.size(1), device=mask.device)
    last = torch.where(mask.bool(), positions, torch.zeros_like(positions)).max(dim=1).values
    return [emb[: int(end) + 1].detach() for emb, end in zip(output["token_embeddings"], last, strict=True)]


def _all_outputs(output: dict[str, Any]) -> list[dict[str, Any]]:
    """Split a batch's outputs into one dict per text; values without a batch dimension are shared as is."""
    batch = len(output["sentence_embedding"]) if "sentence_embedding" in output else len(output["input_ids"])

    def item(value: Any, index: int) -> Any:
        if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == batch:
            return value[index].detach()
        return value

    return [{name: item(value, index) for name, value in output.items()} for index in range(batch)]


def _finish(embeddings: Tensor | list[Any], options: EncodeOptions, single: bool) -> np.ndarray | Tensor | list[Any]:
    """Quantize, convert to the asked output type, and unwrap a single text's result."""
    if isinstance(embeddings, Tensor) and len(embeddings) and options.precision != "float32":
        from embedforge.quantization import quantize_embeddings

        embeddings = quantize_embeddings(embeddings, precision=options.precision)
    if options.output_type == "tensor":
        result: Any = torch.as_tensor(embeddings) if len(embeddings) else torch.tensor([])
    elif options.output_type == "numpy":
        result = _to_numpy(embeddings) if len(embeddings) else np.array([])
    elif isinstance(embeddings, (Tensor, np.ndarray)):
        result = list(torch.as_tensor(embeddings))
    else:
        result = embeddings
    return result[0] if single else result


def _to_numpy(embeddings: Tensor | np.ndarray | list[Any]) -> np.ndarray:
    """CPU numpy copy; bfloat16 becomes float32 (numpy has no bfloat16)."""
    if not isinstance(embeddings, Tensor):
        return np.asarray(embeddings)
    if embeddings.dtype == torch.bfloat16:
        embeddings = embeddings.float()
    return embeddings.cpu().numpy()
