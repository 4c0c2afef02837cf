"""BackendModel: the inference-only stand-in for a transformers model inside a ``Transformer`` module."""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from transformers import PretrainedConfig

    from embedforge.model.base import BaseModel

__all__ = ["TASK_OUTPUT_NAMES", "BackendModel", "runtime_model_of", "runtime_streams", "runtime_threads"]

RuntimeT = TypeVar("RuntimeT", bound="BackendModel")

TASK_OUTPUT_NAMES: dict[str, str] = {
    "feature-extraction": "last_hidden_state",
    "sequence-classification": "logits",
}
"""The one graph output each transformer task reads (the names optimum's exports use too)."""


class BackendModel(nn.Module, ABC):
    """A transformers model exported to an inference runtime (ONNX Runtime, OpenVINO).

    It takes the place of ``Transformer.auto_model``: it is called with the tokenizer's tensors and returns the
    task's output under the transformers name (``last_hidden_state`` ``(batch, seq_len, hidden)`` or ``logits``
    ``(batch, num_labels)``) as float32 CPU tensors. It has no parameters and cannot be trained.

    Args:
        config: The transformers config of the exported model (saved as ``config.json`` beside the modules).
        task: ``"feature-extraction"`` or ``"sequence-classification"``.
        model_file: The runtime's model file (``.onnx`` or ``.xml``), in the model folder or a temporary one.
        input_names: The graph's inputs, in the order the runtime lists them.

    Attributes:
        backend_name: ``"onnx"`` or ``"openvino"``: also the subfolder the model file is saved in.
        source_file_name: The model file's name; saving keeps it (``model_O3.onnx`` stays ``model_O3.onnx``).
        scratch: The temporary folder holding a freshly exported file until the model is saved (or dropped).
        streams: How many :meth:`run` calls the runtime is set up to serve at once (each on its own share of the
            threads); ``encode`` and ``predict`` keep that many batches in flight. 1: one call at a time.
    """

    backend_name: ClassVar[str]
    companion_suffixes: ClassVar[tuple[str, ...]] = ()
    """Files that travel with the model file under the same stem (OpenVINO's ``.bin`` weights)."""

    def __init__(self, config: PretrainedConfig, task: str, model_file: Path, input_names: Sequence[str]) -> None:
        super().__init__()
        if task not in TASK_OUTPUT_NAMES:
            raise ValueError(
                f"The {self.backend_name} backend runs the tasks {sorted(TASK_OUTPUT_NAMES)}, got {task!r}."
            )
        self.config = config
        self.task = task
        self.output_name = TASK_OUTPUT_NAMES[task]
        self.model_file = Path(model_file)
        self.source_file_name = self.model_file.name
        self.input_names: tuple[str, ...] = tuple(input_names)
        self.scratch: tempfile.TemporaryDirectory | None = None
        self.streams = 1

    @abstractmethod
    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Run the graph on int64 arrays ``(batch, seq_len)`` keyed by input name; return the task's output.

        Safe to call from ``streams`` threads at once.
        """

    def forward(self, return_dict: bool = True, **inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the exported model on the tokenizer's tensors.

        Args:
            return_dict: Accepted for call compatibility with transformers models; the result is always a dict.
            **inputs: ``input_ids``, ``attention_mask`` (and ``token_type_ids``), each ``(batch, seq_len)``.

        Returns:
            ``{"last_hidden_state": (batch, seq_len, hidden)}`` or ``{"logits": (batch, num_labels)}``.
        """
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise ValueError(f"The exported model needs the inputs {list(self.input_names)}; missing {missing}.")
        arrays = {name: inputs[name].detach().cpu().numpy().astype(np.int64, copy=False) for name in self.input_names}
        output = torch.from_numpy(np.ascontiguousarray(self.run(arrays)))
        device = inputs[self.input_names[0]].device
        return {self.output_name: output.to(device=device, dtype=torch.float32)}

    def train(self, mode: bool = True) -> BackendModel:
        """Stay in inference mode: an exported model has no training behaviour (dropout is baked out)."""
        return super().train(False)

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:
        """Write ``config.json`` to ``save_directory`` and the model file to ``save_directory/<backend>/``."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.config.save_pretrained(str(directory))
        target = directory / self.backend_name
        target.mkdir(parents=True, exist_ok=True)
        for source in self.files():
            destination = target / source.name
            if source.resolve() != destination.resolve():
                shutil.copyfile(source, destination)

    def files(self) -> list[Path]:
        """The model file and its companions (weights), as they are now on disk."""
        return [self.model_file, *(self.model_file.with_suffix(suffix) for suffix in self.companion_suffixes)]

    def extra_repr(self) -> str:
        """The backend, file and task, for ``repr``."""
        return f"backend={self.backend_name!r}, file={self.source_file_name!r}, task={self.task!r}"


@contextmanager
def runtime_threads(model: nn.Module) -> Iterator[None]:
    """While a model with an exported runtime encodes, give torch one thread and the runtime the cores.

    The runtime (created with torch's thread count) does the heavy work; torch's share (pooling, Normalize, Dense)
    is tiny, and waking torch's own thread pool beside the runtime's costs more than the work itself (measured:
    ~15 ms per batch of 32 on a 2-core CPU, 15 % of an int8 encode). Models without a runtime are untouched.
    """
    if not any(isinstance(module, BackendModel) for module in model.modules()):
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def runtime_streams(model: nn.Module) -> int:
    """How many batches ``model`` can run at once: the ``streams`` of its exported runtime, 1 without one."""
    return max((module.streams for module in model.modules() if isinstance(module, BackendModel)), default=1)


def runtime_model_of(model: BaseModel, runtime: type[RuntimeT]) -> RuntimeT:
    """The runtime model inside ``model``'s Transformer; ValueError naming the backend to load with otherwise."""
    inner = model.transformers_model
    if not isinstance(inner, runtime):
        raise ValueError(
            "The model must be a Transformer-based SentenceTransformer or CrossEncoder loaded with "
            f"backend={runtime.backend_name!r}; its Transformer runs {type(inner).__name__}. Load it with "
            f"SentenceTransformer(path, backend={runtime.backend_name!r}) first."
        )
    return inner
