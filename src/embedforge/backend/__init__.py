"""Inference backends besides torch: ONNX Runtime and OpenVINO, with sentence-transformers 6.2's export functions.

``SentenceTransformer(path, backend="onnx")`` (or ``"openvino"``, and ``CrossEncoder`` likewise) runs the model's
Transformer as an exported graph: loaded from ``<path>/onnx/model.onnx`` (``<path>/openvino/openvino_model.xml``) or
exported there on first load. The export functions below write optimized and quantized variants beside it. Built
directly on ``torch.onnx``, ``onnxruntime``, ``openvino`` and ``nncf`` (extras ``embedforge[onnx]`` and
``embedforge[openvino]``); names and arguments are sentence-transformers'.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "load_onnx_model": "embedforge.backend.load",
    "load_openvino_model": "embedforge.backend.load",
    "export_optimized_onnx_model": "embedforge.backend.optimize",
    "export_dynamic_quantized_onnx_model": "embedforge.backend.quantize",
    "export_static_quantized_openvino_model": "embedforge.backend.quantize",
    "_save_pretrained_wrapper": "embedforge.backend.utils",
    "backend_should_export": "embedforge.backend.utils",
    "backend_warn_to_save": "embedforge.backend.utils",
    "save_or_push_to_hub_model": "embedforge.backend.utils",
    "OptimizationConfig": "embedforge.backend.configs",
    "QuantizationConfig": "embedforge.backend.configs",
    "OVQuantizationConfig": "embedforge.backend.configs",
    "BackendModel": "embedforge.backend.backend_model",
    "ONNXModel": "embedforge.backend.onnx_model",
    "OpenVINOModel": "embedforge.backend.openvino_model",
}

__all__ = [
    "BackendModel",
    "ONNXModel",
    "OVQuantizationConfig",
    "OpenVINOModel",
    "OptimizationConfig",
    "QuantizationConfig",
    "backend_should_export",
    "backend_warn_to_save",
    "export_dynamic_quantized_onnx_model",
    "export_optimized_onnx_model",
    "export_static_quantized_openvino_model",
    "load_onnx_model",
    "load_openvino_model",
    "save_or_push_to_hub_model",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'embedforge.backend' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
