"""The optimization levels and quantization presets of the export functions, written down as data.

They carry optimum's definitions (the ones sentence-transformers 6.2's export functions use) over to ONNX Runtime's
own tools, so that ``"O3"`` or ``"avx512_vnni"`` means here what it means there:

- O1: basic general graph optimizations; O2: extended general optimizations and transformers-specific fusions;
  O3: O2 with the GELU approximation; O4: O3 in mixed precision (float16; for GPUs).
- arm64 / avx2 / avx512 / avx512_vnni: dynamic int8 quantization (QOperator format, IntegerOps), per-channel
  symmetric weights; uint8 weights for avx2 (signed int8 for the others), uint8 activations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "OPTIMIZATION_LEVELS",
    "QUANTIZATION_PRESETS",
    "OVQuantizationConfig",
    "OptimizationConfig",
    "QuantizationConfig",
    "optimization_config",
    "quantization_config",
]


@dataclass
class OptimizationConfig:
    """What ``export_optimized_onnx_model`` asks of ONNX Runtime's transformer optimizer.

    Attributes:
        optimization_level: ONNX Runtime graph optimization level (1: basic, 2: extended, 99: all).
        optimize_for_gpu: Fuse for a GPU execution provider.
        fp16: Convert the weights to float16 (inputs and outputs stay float32).
        enable_transformers_specific_optimizations: Run the transformers fusions (attention, skip layer norm,
            bias GELU…) besides ONNX Runtime's general ones.
        enable_gelu_approximation: Replace GELU by its tanh approximation (FastGelu): faster, slightly different.
        disable_embed_layer_norm_fusion: Keep the embedding layer norm unfused (the fused op blocks quantization).
    """

    optimization_level: int = 1
    optimize_for_gpu: bool = False
    fp16: bool = False
    enable_transformers_specific_optimizations: bool = True
    enable_gelu_approximation: bool = False
    disable_embed_layer_norm_fusion: bool = True


@dataclass
class QuantizationConfig:
    """What ``export_dynamic_quantized_onnx_model`` asks of ONNX Runtime's ``quantize_dynamic``.

    Attributes:
        is_static: Always False here (dynamic quantization: activation ranges are computed at run time).
        weights_dtype: ``"QInt8"`` or ``"QUInt8"``.
        activations_dtype: ``"QUInt8"`` (dynamic quantization needs unsigned activations).
        weights_symmetric: Symmetric weight ranges.
        activations_symmetric: Symmetric activation ranges.
        per_channel: One scale per output channel of each weight ("per-row").
        reduce_range: 7-bit weights (against the AVX-512 saturation of ``VPMADDUBSW`` on CPUs without VNNI).
        operators_to_quantize: ONNX op types to quantize; empty: ONNX Runtime's defaults for dynamic quantization.
        nodes_to_exclude: Node names to keep in float32.
    """

    is_static: bool = False
    weights_dtype: str = "QInt8"
    activations_dtype: str = "QUInt8"
    weights_symmetric: bool = True
    activations_symmetric: bool = False
    per_channel: bool = True
    reduce_range: bool = False
    operators_to_quantize: list[str] = field(default_factory=list)
    nodes_to_exclude: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The fields, for messages and model cards."""
        return asdict(self)


@dataclass
class OVQuantizationConfig:
    """What ``export_static_quantized_openvino_model`` asks of NNCF's post-training quantization.

    Attributes:
        num_samples: Calibration texts read from the dataset.
        preset: ``"performance"`` (symmetric activations) or ``"mixed"`` (asymmetric activations).
        model_type: ``"transformer"`` keeps the attention parts NNCF knows to be sensitive in float.
        fast_bias_correction: NNCF's faster bias correction.
        max_length: Calibration inputs are padded and truncated to this many tokens (384, as sentence-transformers).
    """

    num_samples: int = 300
    preset: str = "performance"
    model_type: str = "transformer"
    fast_bias_correction: bool = True
    max_length: int = 384


OPTIMIZATION_LEVELS: dict[str, dict[str, Any]] = {
    "O1": {"optimization_level": 1, "enable_transformers_specific_optimizations": False},
    "O2": {"optimization_level": 2, "enable_transformers_specific_optimizations": True},
    "O3": {
        "optimization_level": 2,
        "enable_transformers_specific_optimizations": True,
        "enable_gelu_approximation": True,
    },
    "O4": {
        "optimization_level": 2,
        "enable_transformers_specific_optimizations": True,
        "enable_gelu_approximation": True,
        "fp16": True,
        "optimize_for_gpu": True,
    },
}
"""Optimization level -> OptimizationConfig fields (optimum's AutoOptimizationConfig levels)."""

QUANTIZATION_PRESETS: dict[str, dict[str, Any]] = {
    "arm64": {"weights_dtype": "QInt8"},
    "avx2": {"weights_dtype": "QUInt8"},
    "avx512": {"weights_dtype": "QInt8"},
    "avx512_vnni": {"weights_dtype": "QInt8"},
}
"""Dynamic quantization preset -> QuantizationConfig fields (optimum's AutoQuantizationConfig, is_static=False)."""


def optimization_config(level: str) -> OptimizationConfig:
    """The config of an optimization level (``"O1"`` … ``"O4"``)."""
    if level not in OPTIMIZATION_LEVELS:
        raise ValueError(
            f"optimization_config must be an OptimizationConfig or one of {sorted(OPTIMIZATION_LEVELS)}, got {level!r}."
        )
    return OptimizationConfig(**OPTIMIZATION_LEVELS[level])


def quantization_config(preset: str) -> QuantizationConfig:
    """The config of a dynamic quantization preset (``"arm64"``, ``"avx2"``, ``"avx512"``, ``"avx512_vnni"``)."""
    if preset not in QUANTIZATION_PRESETS:
        raise ValueError(
            f"quantization_config must be a QuantizationConfig or one of {sorted(QUANTIZATION_PRESETS)}, "
            f"got {preset!r}."
        )
    return QuantizationConfig(**QUANTIZATION_PRESETS[preset])
