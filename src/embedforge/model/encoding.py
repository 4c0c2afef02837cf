"""``SentenceTransformer.encode`` end to end: where it runs, length-sorted batches, outputs, precision and types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from embedforge.backend.backend_model import runtime_streams
from embedforge.model.batching import BatchPlan, batch_plan, join_parts, restore_order, run_in_batches, to_device
from embedforge.model.encode_pipeline import PipelineMode, run_pipelined, split_chunks

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
    """Embed ``texts`` in this process, in input order: a tensor ``(n, dim)`` or a list for other outputs.

    The texts go through in chunks, as ``encode_pipeline.PipelineMode`` says for the model's device: on CUDA the
    next chunk is tokenized in a background thread while the current chunk runs, batches are copied from pinned
    memory without waiting, and outputs stay on the device within a chunk (no device->host sync per batch); a
    numpy result is copied to the host once per chunk, so device memory holds one chunk's embeddings at most.
    """
    model.eval()
    if options.device is not None and options.device != model.device:
        model.to(options.device)
    mode = PipelineMode.for_device(model.device, options.batch_size)

    def prepare(chunk: list[Any]) -> BatchPlan:
        return batch_plan(model.input_module, chunk, options.prompt, options.task, options.module_kwargs)

    def run(plan: BatchPlan) -> Tensor | list[Any]:
        part = _embed_chunk(model, plan, options, mode.pin)
        if options.output_type == "numpy" and isinstance(part, Tensor) and part.device.type != "cpu":
            part = part.cpu()  # one copy per chunk: the device holds one chunk's embeddings, not the whole call's
        return part

    parts = run_pipelined(split_chunks(texts, mode.first_chunk), prepare, run, mode.prefetch)
    return join_parts(parts, as_tensor=options.output_value == "sentence_embedding")


def _embed_chunk(model: SentenceTransformer, plan: BatchPlan, options: EncodeOptions, pin: bool) -> Tensor | list[Any]:
    """Run the batches of one planned chunk; results in the chunk's input order (on the model's device)."""
    forward_kwargs = options.forward_kwargs
    device = model.device

    def embed_batch(indices: np.ndarray) -> Tensor | _TokenRows | list[Any]:
        features = to_device(plan.make_features(indices), device, pin)
        with torch.inference_mode():
            output = model(features, **forward_kwargs)
        return _outputs(output, options)

    slices = plan.slices(options.batch_size)
    parts = run_in_batches(slices, embed_batch, options.show_progress_bar, runtime_streams(model))
    if options.output_value == "sentence_embedding":
        joined = join_parts(parts, as_tensor=True)
    elif options.output_value == "token_embeddings":
        joined = _split_token_rows(parts)
    else:
        joined = join_parts(parts, as_tensor=False)
    return restore_order(joined, plan.order)


def _outputs(output: dict[str, Any], options: EncodeOptions) -> Tensor | _TokenRows | list[Any]:
    """What one batch contributes: sentence embeddings ``(batch, dim)``, its token rows, or one dict per text."""
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
        return _token_rows(output)
    return _all_outputs(output)


@dataclass(frozen=True)
class _TokenRows:
    """One batch's token embeddings, still on the device, before they are cut per text.

    Attributes:
        embeddings: ``(batch, seq_len, dim)`` token embeddings.
        last: ``(batch,)`` position of each text's last real token (trailing padding follows it).
    """

    embeddings: Tensor
    last: Tensor


def _token_rows(output: dict[str, Any]) -> _TokenRows:
    """A batch's token embeddings and the position of each text's last real token (no device->host copy)."""
    mask = output["attention_mask"]
    positions = torch.arange(mask.size(1), device=mask.device)
    last = torch.where(mask.bool(), positions, torch.zeros_like(positions)).max(dim=1).values
    return _TokenRows(output["token_embeddings"].detach(), last)


def _split_token_rows(parts: list[_TokenRows]) -> list[Tensor]:
    """Per-text token embeddings ``(n_tokens_i, dim)``, trailing padding cut off: one host copy of all the ends."""
    if not parts:
        return []
    ends = torch.cat([part.last for part in parts]).tolist()
    rows = [row for part in parts for row in part.embeddings]
    return [row[: end + 1] for row, end in zip(rows, ends, strict=True)]


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
