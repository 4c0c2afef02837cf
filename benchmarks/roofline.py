"""How much arithmetic an encoder forward takes, and how fast this machine's matrix products run.

Used by ``evaluate.py`` to say how close each library's encoding is to the machine's limit: if both run the same
matrix products near the measured float32 GEMM rate, no change of batching or caching can make one much faster
without doing less arithmetic (fewer texts, fewer tokens) or lower precision.

Usage::

    python benchmarks/roofline.py --threads 2      # the GEMM rate alone
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Work:
    """Arithmetic of one encoder pass over some texts.

    Attributes:
        texts: Number of texts.
        tokens: Tokens after truncation, summed over the texts.
        flops: Floating-point operations of the transformer layers (matrix products and attention scores).
    """

    texts: int
    tokens: int
    flops: float


def encoder_work(model: Any, texts: Iterable[str]) -> Work:
    """Arithmetic of ``model``'s transformer layers on ``texts`` (each alone, no padding).

    Per token and layer: ``2 * (4 h^2 + 2 h f)`` for the projections and feed-forward (``h`` hidden size, ``f``
    intermediate size), plus ``4 h n`` for the attention scores and weighted sum over a text of ``n`` tokens.
    Embeddings, layer norms, activations and pooling are left out (they are not matrix products).

    Args:
        model: A SentenceTransformer (either library) whose first module wraps a BERT-like transformers model.
        texts: The texts.
    """
    texts = list(texts)
    config = model[0].auto_model.config
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    lengths = (
        [
            len(ids)
            for ids in model.tokenizer(
                texts, truncation=True, max_length=model.max_seq_length, add_special_tokens=True
            )["input_ids"]
        ]
        if texts
        else []
    )
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * inner) * layers
    attention = sum(4 * hidden * n * n for n in lengths) * layers
    return Work(len(texts), sum(lengths), float(per_token * sum(lengths) + attention))


def gemm_gflops(
    rows: int = 8192, inner: int = 384, cols: int = 1536, repeats: int = 20, rounds: int = 5, dtype: str = "float32"
) -> float:
    """Best measured rate of ``(rows, inner) @ (inner, cols)`` products (a BERT feed-forward's shape) in ``dtype``.

    The best of ``rounds`` rounds of ``repeats`` products, in GFLOP/s: on a shared machine the rate varies from
    minute to minute, and the best round is the closest to what the cores can do.
    """
    import torch

    left = torch.randn(rows, inner, dtype=getattr(torch, dtype))
    right = torch.randn(inner, cols, dtype=getattr(torch, dtype))
    best = float("inf")
    with torch.inference_mode():
        left @ right
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(repeats):
                left @ right
            best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * rows * inner * cols / best / 1e9


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rate = gemm_gflops(dtype=args.dtype)
    print(f"{args.dtype} GEMM (8192x384 @ 384x1536), {torch.get_num_threads()} threads: {rate:.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
