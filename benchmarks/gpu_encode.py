"""Encode throughput of both libraries on the same model folder, texts and dtype (the GPU suite's encode part).

Both libraries load the folder with ``model_kwargs={"dtype": dtype}`` (transformers 5's name for
``torch_dtype``; the weights are cast while loading, as sentence-transformers documents for bf16 inference, rather
than ``model.half()`` afterwards); a model that comes back in another dtype is cast with ``.to(dtype)``, and the
JSON says which happened. After one untimed warm-up call on the longest ``2 x batch`` texts (its seconds are
reported), each repeat encodes all texts once per library, who goes first alternating, with a device
synchronisation around every call. The embeddings of the last repeat give the largest absolute difference and the
lowest cosine similarity between the two libraries' vectors of the same text.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from gpu_configs import EncodeConfig
from gpu_train import EMBEDFORGE, ST, synchronize


def load_model(library: str, folder: Path, device: str, dtype_name: str) -> tuple[Any, str]:
    """One library's SentenceTransformer in ``dtype_name``; how the dtype was reached (``model_kwargs``/``cast``)."""
    import torch

    dtype = getattr(torch, dtype_name)
    if library == EMBEDFORGE:
        from embedforge import SentenceTransformer
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers import SentenceTransformer  # type: ignore[no-redef]
    model = SentenceTransformer(str(folder), device=device, model_kwargs={"dtype": dtype})
    if next(model.parameters()).dtype == dtype:
        return model, "model_kwargs"
    model.to(dtype)
    return model, "cast"


def _timed_encode(model: Any, texts: list[str], batch_size: int, device: str) -> tuple[float, Any]:
    """Wall seconds of one ``encode`` call (device synchronised before and after) and its embeddings."""
    synchronize(device)
    start = time.perf_counter()
    embeddings = model.encode(texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    synchronize(device)
    return time.perf_counter() - start, embeddings


def compare(ours: Any, theirs: Any) -> dict[str, float]:
    """Largest absolute difference and lowest cosine similarity, row by row, of two ``(n, dim)`` matrices."""
    import numpy as np

    a = np.asarray(ours, dtype=np.float32)
    b = np.asarray(theirs, dtype=np.float32)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosine = (a * b).sum(axis=1) / np.maximum(norms, 1e-12)
    return {
        "max_abs_diff": float(np.abs(a - b).max()),
        "max_abs_value": float(np.abs(b).max()),
        "min_cosine": float(cosine.min()),
    }


def run_encode(models: dict[str, Any], config: EncodeConfig, texts: list[str], device: str) -> dict[str, Any]:
    """Warm up, then ``config.repeats`` alternating passes per library; rates, warm-up and agreement."""
    names = list(models)
    for model in models.values():
        model.max_seq_length = config.max_seq_length
    warmup_texts = sorted(texts, key=len)[-2 * config.batch_size :]
    per_library: dict[str, dict[str, Any]] = {name: {"seconds": []} for name in names}
    for name in names:
        seconds, _ = _timed_encode(models[name], warmup_texts, config.batch_size, device)
        per_library[name]["warmup_s"] = seconds
    last: dict[str, Any] = {}
    for repeat in range(config.repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            seconds, last[name] = _timed_encode(models[name], texts, config.batch_size, device)
            per_library[name]["seconds"].append(seconds)
            print(f"    repeat {repeat + 1}: {name:<22} {len(texts) / seconds:9.1f} texts/s ({seconds:.2f} s)")
    for entry in per_library.values():
        entry["texts_per_s"] = [len(texts) / seconds for seconds in entry["seconds"]]
        entry["texts_per_s_total"] = len(texts) * len(entry["seconds"]) / sum(entry["seconds"])
    result: dict[str, Any] = {"texts": len(texts), "libraries": per_library}
    if EMBEDFORGE in last and ST in last:
        result["agreement"] = compare(last[EMBEDFORGE], last[ST])
        ours, theirs = per_library[EMBEDFORGE], per_library[ST]
        result["ratio"] = ours["texts_per_s_total"] / theirs["texts_per_s_total"]
        result["ratio_per_repeat"] = [b / a for a, b in zip(ours["seconds"], theirs["seconds"], strict=True)]
    return result


def run_compiled_encode(
    folder: Path, theirs: Any, config: EncodeConfig, texts: list[str], device: str, dtype_name: str
) -> dict[str, Any]:
    """``run_encode`` of a fresh embedforge model compiled with ``model.compile(dynamic=True)`` against ``theirs``."""
    ours, reached_by = load_model(EMBEDFORGE, folder, device, dtype_name)
    ours.compile(dynamic=True)
    result = run_encode({EMBEDFORGE: ours, ST: theirs}, config, texts, device)
    return {**result, "reached_by": reached_by}
