"""Useful training FLOPs per sample and model FLOPs utilisation (MFU) against the card's dense bf16 peak.

The formula, for a BERT encoder with ``L`` layers, hidden size ``h``, intermediate size ``i``, and one text of
``n`` real tokens::

    P     = L * (4 * h**2 + 2 * h * i)                # weights of the Q, K, V, O and the two feed-forward matmuls
    flops = 6 * P * n  +  12 * L * n**2 * h           # forward + backward (3 x forward)

``2 * P * n`` is the forward of the linear layers (one multiply-add per weight and token), ``4 * L * n**2 * h``
the forward of attention's two matmuls (``Q K^T`` and ``A V`` over all heads); backward costs twice the forward.
Embeddings, the pooler, biases, LayerNorm, softmax, GELU and the loss are not counted (a few per cent). A training
sample's FLOPs are the sum over its texts (anchor and positive, or sentence1 and sentence2).

``n`` counts **real tokens only**: the text tokenized with its special tokens and truncated to
``max_seq_length``, without padding. The figure is therefore *useful* FLOPs: a padded forward does more
arithmetic than this, and CachedMultipleNegativesRankingLoss' second forward (it recomputes the embeddings with
gradients) is not counted either. The mean per sample is taken over up to ``SAMPLE_ROWS`` rows of the training
set (a seeded sample); the trainers draw their batches uniformly from the same rows.

MFU = samples/s x FLOPs per sample / peak, with the peak of dense (no sparsity) bf16 tensor-core arithmetic from
the card's name (``torch.cuda.get_device_name``), or ``--peak-tflops``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from gpu_models import encoder_shape

SAMPLE_ROWS = 4096

# Dense bf16 tensor-core peak, TFLOPS (vendor data sheets; no structured sparsity). More specific names first.
PEAK_BF16_TFLOPS = (
    ("H100 PCIE", 756.0),
    ("H100 NVL", 835.0),
    ("GH200", 989.4),
    ("H200", 989.4),
    ("H100", 989.4),
    ("A100", 312.0),
    ("L40S", 362.0),
)


def peak_tflops(device_name: str | None) -> float | None:
    """The card's dense bf16 peak in TFLOPS from its name; None for CPUs and unknown cards."""
    if not device_name:
        return None
    upper = device_name.upper()
    return next((value for key, value in PEAK_BF16_TFLOPS if key in upper), None)


def sequence_flops(tokens: int, layers: int, hidden: int, intermediate: int) -> float:
    """Forward + backward FLOPs of one text of ``tokens`` real tokens (formula in the module docstring)."""
    weights = layers * (4 * hidden**2 + 2 * hidden * intermediate)
    return 6.0 * weights * tokens + 12.0 * layers * tokens**2 * hidden


def token_counts(model_folder: Path, texts: list[str], max_seq_length: int) -> list[int]:
    """Real tokens per text (special tokens included, truncated to ``max_seq_length``, no padding)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_folder))
    encoded = tokenizer(texts, truncation=True, max_length=max_seq_length)
    return [len(ids) for ids in encoded["input_ids"]]


def training_work(
    model_folder: Path, rows: dict[str, list[Any]], text_columns: tuple[str, ...], max_seq_length: int
) -> dict[str, float]:
    """Mean real tokens and useful forward+backward FLOPs per training sample.

    Args:
        model_folder: The model's folder (its ``config.json`` and tokenizer).
        rows: The training columns, each a list of ``n_rows`` values.
        text_columns: The columns holding texts (labels excluded).
        max_seq_length: Truncation length of the run.

    Returns:
        ``tokens_per_sample``, ``flops_per_sample`` and ``rows_sampled``.
    """
    shape = encoder_shape(model_folder)
    n_rows = len(rows[text_columns[0]])
    picked = sorted(random.Random(0).sample(range(n_rows), min(SAMPLE_ROWS, n_rows)))
    tokens = 0.0
    flops = 0.0
    for column in text_columns:
        counts = token_counts(model_folder, [rows[column][index] for index in picked], max_seq_length)
        tokens += sum(counts) / len(counts)
        flops += sum(sequence_flops(count, **shape) for count in counts) / len(counts)
    return {"tokens_per_sample": tokens, "flops_per_sample": flops, "rows_sampled": float(len(picked))}


def mfu(samples_per_second: float | None, flops_per_sample: float | None, peak: float | None) -> float | None:
    """Useful FLOPs per second over the peak (a fraction), or None where a figure is missing."""
    if not samples_per_second or not flops_per_sample or not peak:
        return None
    return samples_per_second * flops_per_sample / (peak * 1e12)
