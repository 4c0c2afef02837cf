"""ONNXModel: a transformers model exported to ONNX, run by ONNX Runtime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from embedforge.backend.backend_model import BackendModel
from embedforge.backend.requirements import require_backend

if TYPE_CHECKING:
    from transformers import PretrainedConfig

__all__ = ["CPU_PROVIDERS", "ONNXModel"]

CPU_PROVIDERS = ("CPUExecutionProvider", "AzureExecutionProvider")
"""Providers whose graphs run on the CPU (the Azure provider, listed first in the CPU wheels, only adds remote ops)."""


class ONNXModel(BackendModel):
    """An ONNX graph of a transformers model in an ``onnxruntime.InferenceSession``.

    Args:
        config: The transformers config of the exported model.
        task: ``"feature-extraction"`` or ``"sequence-classification"``.
        model_file: The ``.onnx`` file.
        provider: The ONNX Runtime execution provider; default: the first available one (as sentence-transformers
            does), i.e. ``CPUExecutionProvider`` on a CPU build.
        session_options: An ``onnxruntime.SessionOptions``; default: torch's thread count
            (``torch.set_num_threads`` governs both backends) shared among ``streams`` concurrent runs
            (``intra_op_num_threads`` = threads // streams), full graph optimization, no spinning of idle threads
            (measured 1.8x faster encode on a busy 2-core CPU).
        provider_options: Options for the provider (ONNX Runtime's ``provider_options``).
        streams: Batches run at once, each in its own thread (an embedforge option, ``model_kwargs={"streams": n}``).
            Default: torch's thread count on a CPU provider with embedforge's session options (one thread per
            run: measured 1.11x (float32) and 1.15x (int8) the encode throughput of one 2-thread run on 2 cores),
            else 1. ``streams=1`` gives each run all threads: the lowest latency for one long input.
    """

    backend_name: ClassVar[str] = "onnx"

    def __init__(
        self,
        config: PretrainedConfig,
        task: str,
        model_file: Path,
        provider: str | None = None,
        session_options: Any = None,
        provider_options: dict[str, Any] | None = None,
        streams: int | None = None,
    ) -> None:
        require_backend("onnx")
        import onnxruntime

        self.provider = provider or onnxruntime.get_available_providers()[0]
        if streams is not None and (isinstance(streams, bool) or not isinstance(streams, int) or streams < 1):
            raise ValueError(f"streams must be a positive int (batches run at once), got {streams!r}.")
        threads = torch.get_num_threads()
        if streams is None:
            default_cpu = session_options is None and self.provider in CPU_PROVIDERS
            streams = threads if default_cpu else 1
        if session_options is None:
            session_options = onnxruntime.SessionOptions()
            session_options.intra_op_num_threads = max(1, threads // streams)
            session_options.inter_op_num_threads = 1
            # idle threads sleep instead of spinning: between runs the cores go to tokenization and pooling
            session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(model_file),
            sess_options=session_options,
            providers=[self.provider],
            provider_options=[provider_options] if provider_options else None,
        )
        input_names: Sequence[str] = [node.name for node in self.session.get_inputs()]
        super().__init__(config, task, model_file, input_names)
        self.streams = streams
        outputs = [node.name for node in self.session.get_outputs()]
        self._run_output = self.output_name if self.output_name in outputs else outputs[0]

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Run the session (thread-safe); the output named for the task, or the graph's first output."""
        return self.session.run([self._run_output], inputs)[0]
