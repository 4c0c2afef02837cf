"""What ``torch_compile=True`` does to the first training steps, said once when a trainer is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from embedforge.engine.batch_shapes import CUDA_GRAPH_MODES

if TYPE_CHECKING:
    from transformers import TrainingArguments

__all__ = ["compile_notice"]


def compile_notice(args: TrainingArguments) -> str | None:
    """One line on the compilation pauses ``torch_compile=True`` brings, or None when it is off.

    transformers hands the model to accelerate's ``TorchDynamoPlugin`` (``torch_compile_backend``,
    ``torch_compile_mode``, ``dynamic=None``): ``torch.compile`` traces and compiles when the first batch arrives,
    for that batch's shapes, and once more, with dynamic shapes, at the first batch of another shape; later batches
    reuse that graph. embedforge's packed forward reads no host-side lengths, so the batch's width alone does not
    recompile (``tests/unit/engine/test_compile.py``: at most two graphs for four batch shapes).

    Args:
        args: The training arguments.

    Returns:
        The line to log, or None when ``args.torch_compile`` is off.
    """
    if not args.torch_compile:
        return None
    mode = args.torch_compile_mode or "default"
    graphs = ""
    if mode in CUDA_GRAPH_MODES and args.device.type == "cuda":
        graphs = f" Mode {mode!r} also records a CUDA graph at the first step of each batch shape and replays it later."
    return (
        f"torch_compile=True (backend {args.torch_compile_backend!r}, mode {mode!r}): the first training step compiles "
        "the model's forward and backward for its batch shape, and the first step with another shape compiles once "
        "more, with dynamic shapes; those steps take seconds to minutes longer (compilation, not training), later "
        f"steps reuse the compiled graphs. Throughput figures logged over those steps include the compilation.{graphs}"
    )
