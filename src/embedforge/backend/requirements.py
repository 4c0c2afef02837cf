"""The optional packages each backend needs, and the one error that names the extra to install."""

from __future__ import annotations

import importlib.util

__all__ = ["BACKEND_EXTRAS", "BACKEND_PACKAGES", "require_backend"]

BACKEND_PACKAGES: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxruntime"),
    "onnx-export": ("onnx", "onnxruntime", "onnxscript"),
    "openvino": ("openvino",),
    "openvino-export": ("openvino", "onnx", "onnxscript"),
    "openvino-quantize": ("openvino", "nncf", "datasets"),
}
"""What each backend task imports (the import names, which here equal the PyPI names)."""

BACKEND_EXTRAS: dict[str, str] = {
    "onnx": "onnx",
    "onnx-export": "onnx",
    "openvino": "openvino",
    "openvino-export": "openvino",
    "openvino-quantize": "openvino",
}
"""The embedforge extra that installs each task's packages."""


def require_backend(task: str) -> None:
    """Raise one ImportError naming the missing packages and the extra that installs them.

    Args:
        task: A key of :data:`BACKEND_PACKAGES` (``"onnx"``, ``"openvino-quantize"``…).

    Raises:
        ImportError: Some of the task's packages are not installed.
    """
    missing = [name for name in BACKEND_PACKAGES[task] if importlib.util.find_spec(name) is None]
    if missing:
        extra = BACKEND_EXTRAS[task]
        raise ImportError(
            f"The {extra} backend needs {', '.join(BACKEND_PACKAGES[task])}; not installed: {', '.join(missing)}. "
            f'Install them with: pip install "embedforge[{extra}]"'
        )
