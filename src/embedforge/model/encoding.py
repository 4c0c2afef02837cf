"""``SentenceTransformer.encode`` end to end: argument rules, batching, quantization and output types."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from embedforge.model import encode as steps

if TYPE_CHECKING:
    from embedforge.model.multi_process import MultiProcessPool
    from embedforge.model.sentence_transformer import SentenceTransformer

logger = logging.getLogger("embedforge.model.sentence_transformer")


def run_encode(
    model: SentenceTransformer,
    sentences: str | Sequence[str] | None,
    *,
    prompt_name: str | None,
    prompt: str | None,
    batch_size: int,
    show_progress_bar: bool | None,
    output_value: steps.OutputValue,
    precision: str,
    convert_to_numpy: bool,
    convert_to_tensor: bool,
    device: str | list[str] | None,
    normalize_embeddings: bool,
    truncate_dim: int | None,
    pool: MultiProcessPool | None,
    chunk_size: int | None,
    task: str | None,
    unexpected: dict[str, Any],
) -> np.ndarray | Tensor | list[Any]:
    """Carry out one ``encode`` call; see :meth:`SentenceTransformer.encode` for the arguments."""
    if unexpected:
        raise TypeError(
            f"encode got unexpected keyword arguments {sorted(unexpected)}; it accepts the documented ones plus "
            "task= (for routing modules)."
        )
    if sentences is None:
        raise TypeError("encode needs the texts to embed as its first argument (sentences=).")
    steps.check_precision(precision)
    if show_progress_bar is None:
        show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
    if output_value != "sentence_embedding":
        convert_to_tensor = convert_to_numpy = False
    if convert_to_tensor:
        convert_to_numpy = False
    single = isinstance(sentences, str) or not isinstance(sentences, Sequence)
    texts = [sentences] if single else list(sentences)
    options = steps.BatchOptions(
        batch_size=batch_size,
        prompt=steps.resolve_prompt(model.prompts, model.default_prompt_name, prompt_name, prompt),
        output_value=output_value,
        device=torch.device(device) if isinstance(device, str) else model.device,
        normalize=normalize_embeddings,
        truncate_dim=truncate_dim if truncate_dim is not None else model.truncate_dim,
        show_progress_bar=show_progress_bar,
        task=task,
    )
    if isinstance(device, list) and pool is None:
        from embedforge.model.multi_process import start_pool

        pool = start_pool(model, device)
        try:
            embeddings = pool.encode(texts, options, chunk_size)
        finally:
            pool.close()
    elif pool is not None:
        embeddings = pool.encode(texts, options, chunk_size)
    else:
        embeddings = embed_texts(model, texts, options)
    return _finish(embeddings, precision, convert_to_numpy, convert_to_tensor, single)


PRETOKENIZE_CHUNK = 16384
"""Texts tokenized (and length-sorted) together; bounds the memory that unpadded token ids take."""


def embed_texts(model: SentenceTransformer, texts: list[Any], options: steps.BatchOptions) -> Tensor | list[Any]:
    """Embed ``texts`` in this process, in input order: a tensor ``(n, dim)`` or a list for other outputs.

    Texts are tokenized once per chunk without padding, sorted by token count and batched, so batches carry
    almost no padding. Input modules that only tokenize whole batches are batched by character length.
    """
    model.eval()
    if options.device != model.device:
        model.to(options.device)
    parts = [
        _embed_chunk(model, texts[start : start + PRETOKENIZE_CHUNK], options)
        for start in range(0, len(texts), PRETOKENIZE_CHUNK)
    ]
    if options.output_value == "sentence_embedding":
        return torch.cat(parts) if parts else torch.empty(0)
    return [item for part in parts for item in part]


def _embed_chunk(model: SentenceTransformer, texts: list[Any], options: steps.BatchOptions) -> Tensor | list[Any]:
    task_kwargs = {"task": options.task} if options.task is not None else {}
    pretokenized = model.input_module.pretokenize(texts, prompt=options.prompt, **task_kwargs)
    if pretokenized is not None:
        order = np.argsort(-np.asarray(pretokenized.lengths), kind="stable")
        make_features = pretokenized.collate
    else:
        order = steps.longest_first_order(texts)

        def make_features(indices: np.ndarray) -> dict[str, Any]:
            return model.tokenize([texts[i] for i in indices], prompt=options.prompt, **task_kwargs)

    def embed_batch(indices: np.ndarray) -> Tensor | list[Any]:
        features = {key: _to(value, options.device) for key, value in make_features(indices).items()}
        with torch.inference_mode():
            output = model(features, **task_kwargs)
        if options.output_value == "sentence_embedding":
            return steps.sentence_embeddings(output, options)
        if options.truncate_dim is not None and "sentence_embedding" in output:
            output["sentence_embedding"] = output["sentence_embedding"][..., : options.truncate_dim]
        if options.output_value == "token_embeddings":
            return steps.token_embeddings(output)
        return steps.all_outputs(output)

    return steps.restore_order(steps.embed_in_batches(order, embed_batch, options), order)


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, Tensor) else value


def _finish(
    embeddings: Tensor | list[Any], precision: str, convert_to_numpy: bool, convert_to_tensor: bool, single: bool
) -> np.ndarray | Tensor | list[Any]:
    if isinstance(embeddings, Tensor) and len(embeddings) and precision != "float32":
        from embedforge.quantization import quantize_embeddings

        embeddings = quantize_embeddings(embeddings, precision=precision)
    if convert_to_tensor:
        result: Any = torch.as_tensor(embeddings) if len(embeddings) else torch.tensor([])
    elif convert_to_numpy:
        if not len(embeddings):
            result = np.array([])
        else:
            result = steps.to_numpy(embeddings) if isinstance(embeddings, Tensor) else np.asarray(embeddings)
    elif isinstance(embeddings, (Tensor, np.ndarray)):
        result = list(torch.as_tensor(embeddings))
    else:
        result = embeddings
    return result[0] if single else result
