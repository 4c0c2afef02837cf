"""How the trainer's default collator shapes batches: packed layouts, or bucketed widths for CUDA graphs.

By default every text column carries its packed layout (:mod:`embedforge.engine.varlen`) and BERT-style encoders
run on the real tokens only. Compiling with a mode that records CUDA graphs (``torch_compile_mode``
``"reduce-overhead"`` or ``"max-autotune"``) changes that on CUDA: a CUDA graph replays fixed shapes, while a packed
batch has a new number of tokens every step (one recording per step, never a replay). There the batches go without
layouts, so the padded forward runs, and their widths are bucketed (``pad_to_multiple_of``, default
:data:`GRAPH_PAD_MULTIPLE`) so that a few shapes repeat and each is recorded once. Launch-bound small models are the
ones CUDA graphs help: their steps are many short kernels, which a replay launches at once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CUDA_GRAPH_MODES", "GRAPH_PAD_MULTIPLE", "BatchShapes"]

CUDA_GRAPH_MODES = frozenset({"reduce-overhead", "max-autotune"})
"""``torch.compile`` modes that record CUDA graphs (``"max-autotune-no-cudagraphs"`` does not)."""

GRAPH_PAD_MULTIPLE = 32
"""Bucket size in tokens when CUDA graphs are recorded and ``pad_to_multiple_of`` is not set."""


@dataclass(frozen=True)
class BatchShapes:
    """The default collator's batch shaping for one training run.

    Attributes:
        cuda_graphs: Whether the run compiles in a mode that records CUDA graphs on a CUDA device.
        pad_to_multiple_of: Bucket size in tokens for batch widths; None pads each batch to its longest text.
    """

    cuda_graphs: bool
    pad_to_multiple_of: int | None

    @property
    def varlen_layout(self) -> bool:
        """Whether each column carries its packed layout (the unpadded forward): always but under CUDA graphs."""
        return not self.cuda_graphs

    @classmethod
    def plan(
        cls, *, torch_compile: bool, compile_mode: str | None, device_type: str, pad_to_multiple_of: int | None
    ) -> BatchShapes:
        """The shaping the training arguments ask for.

        Args:
            torch_compile: ``TrainingArguments.torch_compile``.
            compile_mode: ``TrainingArguments.torch_compile_mode``.
            device_type: The training device's type (``"cuda"``, ``"cpu"``...).
            pad_to_multiple_of: The user's bucket size, or None.

        Returns:
            Packed layouts and the user's bucket size, except under CUDA graphs: no layouts (the padded forward)
            and buckets of :data:`GRAPH_PAD_MULTIPLE` tokens unless the user chose a size.
        """
        graphs = bool(torch_compile) and compile_mode in CUDA_GRAPH_MODES and device_type == "cuda"
        if graphs and pad_to_multiple_of is None:
            pad_to_multiple_of = GRAPH_PAD_MULTIPLE
        return cls(cuda_graphs=graphs, pad_to_multiple_of=pad_to_multiple_of)

    def describe(self) -> str | None:
        """One line on what differs from padding to the longest text with packed layouts, or None."""
        if self.cuda_graphs:
            return (
                f"CUDA graphs (torch_compile_mode records them): training batches run the padded forward with widths "
                f"padded up to multiples of {self.pad_to_multiple_of} tokens (pad_to_multiple_of), so that a few "
                "shapes repeat; each new shape is compiled or recorded at its first step, later steps replay it"
            )
        if self.pad_to_multiple_of is not None:
            return f"batch widths padded up to multiples of {self.pad_to_multiple_of} tokens (pad_to_multiple_of)"
        return None
