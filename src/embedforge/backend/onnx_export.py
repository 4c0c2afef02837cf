"""Export a transformers encoder or classifier to ONNX with ``torch.onnx``, in optimum's graph conventions.

The graph takes the tokenizer's tensors by their transformers names (``input_ids``, ``attention_mask`` and, where
the model uses them, ``token_type_ids``; int64, dynamic ``batch_size`` and ``sequence_length`` axes) and returns
``last_hidden_state`` (feature extraction) or ``logits`` (sequence classification): the layout that
sentence-transformers' ONNX backend (through optimum) reads, so a model exported here loads there and back.
The model runs with eager attention while it is traced: ONNX Runtime's graph optimizer recognises the eager
pattern, and the exported graph is independent of the attention kernel used for training.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from embedforge.backend.backend_model import TASK_OUTPUT_NAMES
from embedforge.backend.requirements import require_backend

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = ["ONNX_OPSET", "export_to_onnx", "model_input_names"]

logger = logging.getLogger(__name__)

ONNX_OPSET = 17
"""The opset of exported graphs (LayerNormalization is a native op from 17 on)."""

_CANDIDATE_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _NamedInputs(nn.Module):
    """Calls the transformers model with keyword inputs and returns the task's one output tensor."""

    def __init__(self, model: PreTrainedModel, input_names: Sequence[str], output_name: str) -> None:
        super().__init__()
        self.model = model
        self.input_names = tuple(input_names)
        self.output_name = output_name

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        output = self.model(**dict(zip(self.input_names, inputs, strict=True)), return_dict=True)
        return output[self.output_name]


def export_to_onnx(model: PreTrainedModel, task: str, path: Path, input_names: Sequence[str] | None = None) -> Path:
    """Trace ``model`` to an ONNX file at ``path``.

    Args:
        model: A transformers model (``AutoModel`` or ``AutoModelForSequenceClassification``) on the CPU.
        task: ``"feature-extraction"`` or ``"sequence-classification"``.
        path: The ``.onnx`` file to write (its folder is created).
        input_names: The graph inputs; default: those of ``input_ids``, ``attention_mask``, ``token_type_ids``
            that ``model.forward`` accepts.

    Returns:
        ``path``.
    """
    require_backend("onnx-export")
    names = tuple(input_names or model_input_names(model))
    output_name = TASK_OUTPUT_NAMES[task]
    wrapper = _NamedInputs(model, names, output_name).eval()
    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch_size", 1: "sequence_length"} for name in names}
    axes[output_name] = (
        {0: "batch_size", 1: "sequence_length"} if output_name == "last_hidden_state" else {0: "batch_size"}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                tuple(sample.clone() for _ in names),
                str(path),
                dynamo=False,
                opset_version=ONNX_OPSET,
                input_names=list(names),
                output_names=[output_name],
                dynamic_axes=axes,
                do_constant_folding=True,
            )
    finally:
        model.set_attn_implementation(previous)
    return path


def model_input_names(model: PreTrainedModel) -> tuple[str, ...]:
    """The tokenizer outputs among ``input_ids``, ``attention_mask``, ``token_type_ids`` that the model takes."""
    import inspect

    parameters = inspect.signature(model.forward).parameters
    return tuple(name for name in _CANDIDATE_INPUTS if name in parameters)
