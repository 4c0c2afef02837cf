"""OpenVINOModel: a transformers model converted to OpenVINO IR (``.xml`` + ``.bin``), run by OpenVINO Runtime."""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from embedforge.backend.backend_model import BackendModel
from embedforge.backend.requirements import require_backend

if TYPE_CHECKING:
    from transformers import PretrainedConfig

__all__ = ["SHORT_SEQUENCE_LENGTH", "SHORT_SEQUENCE_PROPERTIES", "OpenVINOModel", "convert_onnx_to_openvino"]

logger = logging.getLogger(__name__)

SHORT_SEQUENCE_LENGTH = 64
"""Padded batch length (tokens) up to which a CPU model runs on its short-sequence compilation.

Measured with all-MiniLM-L6-v2 on 2 cores (Sapphire Rapids class), batches of 32 whose length changes from batch to
batch as in a length-sorted ``encode``: without OpenVINO's snippets (``SHORT_SEQUENCE_PROPERTIES``) float32 runs
1-7 % faster and static int8 10-23 % faster up to 64 tokens; from 96 to 256 tokens the snippets compilation is
faster (float32 5-12 %, int8 up to 16 %), so longer batches keep it. See docs/backends.md.
"""

SHORT_SEQUENCE_PROPERTIES: dict[str, str] = {"SNIPPETS_MODE": "DISABLE"}
"""What the short-sequence compilation changes: OpenVINO's CPU plugin runs attention and LayerNorm as separate
kernels instead of its fused snippets subgraphs, which cost more than they save on short sequences (most when the
batch shape changes from batch to batch)."""


_FIRST_INFER_LOCK = threading.Lock()
_first_infer_done = threading.Event()


class _RequestPool:
    """A compiled model and one infer request per stream, handed out to concurrent ``run`` calls.

    The process's first inference runs alone: OpenVINO's Python binding initialises a static on its first
    conversion of a numpy input, and two threads arriving there together deadlocked (one held the static's guard
    and waited for the GIL, the other held the GIL and waited for the guard; seen in 2 of 6 runs when both streams
    started on a freshly compiled model at the same instant).
    """

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.streams = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self.free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(self.streams):
            self.free.put(compiled.create_infer_request())

    def infer(self, inputs: dict[str, np.ndarray], output_index: int) -> np.ndarray:
        """Run ``inputs`` on a free request; a copy of output ``output_index`` (the request's buffer is reused)."""
        if not _first_infer_done.is_set():
            with _FIRST_INFER_LOCK:
                if not _first_infer_done.is_set():  # threads that waited here run concurrently again
                    result = self._infer(inputs, output_index)
                    _first_infer_done.set()
                    return result
        return self._infer(inputs, output_index)

    def _infer(self, inputs: dict[str, np.ndarray], output_index: int) -> np.ndarray:
        request = self.free.get()
        try:
            request.infer(inputs, share_inputs=True)
            return np.array(request.get_output_tensor(output_index).data, copy=True)
        finally:
            self.free.put(request)


class OpenVINOModel(BackendModel):
    """An OpenVINO IR model compiled for a device.

    Args:
        config: The transformers config of the exported model.
        task: ``"feature-extraction"`` or ``"sequence-classification"``.
        model_file: The ``.xml`` file (its weights are the ``.bin`` file beside it).
        ov_config: OpenVINO properties for ``compile_model``, over embedforge's defaults: ``INFERENCE_NUM_THREADS``
            set to torch's thread count and the ``THROUGHPUT`` hint (OpenVINO splits the threads into streams and
            ``encode`` keeps one batch in flight per stream: measured 1.11x (float32) and 1.13x (static int8) the
            throughput of the ``LATENCY`` hint on 2 cores). ``{"PERFORMANCE_HINT": "LATENCY"}`` runs one batch at
            a time on all threads: the lowest latency for one long input. ``INFERENCE_PRECISION_HINT`` is
            ``"f32"``: results then match the torch backend (CPUs with AMX or AVX512-BF16 would otherwise run
            bfloat16 by OpenVINO's own default); ``{"INFERENCE_PRECISION_HINT": "bf16"}`` trades that for speed there.
            Setting ``SNIPPETS_MODE`` yourself turns the short-sequence compilation off.
        device: The OpenVINO device (``"CPU"``, ``"GPU"``…); default ``"CPU"``.
        short_sequence_length: On CPU, batches padded to at most this many tokens run on a second compilation of
            the model with ``SHORT_SEQUENCE_PROPERTIES`` (compiled on the first such batch; same results within
            float rounding); default ``SHORT_SEQUENCE_LENGTH``. ``0`` runs every batch on the one compilation.
    """

    backend_name: ClassVar[str] = "openvino"
    companion_suffixes: ClassVar[tuple[str, ...]] = (".bin",)

    def __init__(
        self,
        config: PretrainedConfig,
        task: str,
        model_file: Path,
        ov_config: dict[str, Any] | None = None,
        device: str = "CPU",
        short_sequence_length: int | None = None,
    ) -> None:
        require_backend("openvino")
        import openvino

        length = SHORT_SEQUENCE_LENGTH if short_sequence_length is None else short_sequence_length
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise ValueError(
                f"short_sequence_length must be a whole number of tokens >= 0 (0 turns it off), got "
                f"{short_sequence_length!r}."
            )
        self.core = openvino.Core()
        self.graph = self.core.read_model(str(model_file))
        self.device_name = device.upper()
        properties = {
            "INFERENCE_NUM_THREADS": torch.get_num_threads(),
            "PERFORMANCE_HINT": "THROUGHPUT",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        properties.update(ov_config or {})
        self.ov_config = properties
        self.pool = _RequestPool(self.core.compile_model(self.graph, self.device_name, properties))
        super().__init__(config, task, model_file, [port.get_any_name() for port in self.graph.inputs])
        self.streams = self.pool.streams
        outputs = [port.get_any_name() for port in self.graph.outputs]
        self._output_index = outputs.index(self.output_name) if self.output_name in outputs else 0
        applies = self.device_name == "CPU" and not set(SHORT_SEQUENCE_PROPERTIES) & set(properties)
        self.short_sequence_length = length if applies else 0
        self._short_pool: _RequestPool | None = None
        self._short_lock = threading.Lock()

    @property
    def compiled(self) -> Any:
        """The OpenVINO ``CompiledModel`` that runs every batch longer than ``short_sequence_length``."""
        return self.pool.compiled

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Run one inference on a free infer request (thread-safe); the task's output, or the model's first."""
        seq_len = next(iter(inputs.values())).shape[-1]
        pool = self.short_pool() if seq_len <= self.short_sequence_length else self.pool
        return pool.infer(inputs, self._output_index)

    def short_pool(self) -> _RequestPool:
        """The short-sequence compilation, compiled on first use; the main one where OpenVINO rejects its properties."""
        if self._short_pool is not None:  # every short batch after the first: no lock
            return self._short_pool
        with self._short_lock:
            if self._short_pool is None:
                properties = {**self.ov_config, **SHORT_SEQUENCE_PROPERTIES}
                try:
                    self._short_pool = _RequestPool(self.core.compile_model(self.graph, self.device_name, properties))
                except RuntimeError as error:  # an OpenVINO release without the property: one compilation for all
                    logger.info("OpenVINO rejected %s (%s); all batches run on one compilation.", properties, error)
                    self.short_sequence_length = 0
                    self._short_pool = self.pool
            return self._short_pool


def convert_onnx_to_openvino(onnx_file: Path, xml_file: Path) -> Path:
    """Convert an ONNX graph to OpenVINO IR at ``xml_file`` (float32 weights in the ``.bin`` beside it)."""
    require_backend("openvino")
    import openvino

    xml_file.parent.mkdir(parents=True, exist_ok=True)
    graph = openvino.convert_model(str(onnx_file))
    openvino.save_model(graph, str(xml_file), compress_to_fp16=False)
    return xml_file
