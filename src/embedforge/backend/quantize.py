"""Quantized exports: dynamic int8 ONNX (ONNX Runtime) and static int8 OpenVINO (NNCF, with calibration texts)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from embedforge.backend import configs
from embedforge.backend.configs import OVQuantizationConfig, QuantizationConfig
from embedforge.backend.optimize import _onnx_model_of
from embedforge.backend.requirements import require_backend
from embedforge.backend.utils import save_or_push_to_hub_model

if TYPE_CHECKING:
    from embedforge.backend.openvino_model import OpenVINOModel
    from embedforge.model.base import BaseModel

__all__ = [
    "calibration_texts",
    "export_dynamic_quantized_onnx_model",
    "export_static_quantized_openvino_model",
    "quantize_onnx_file",
]

logger = logging.getLogger(__name__)

DEFAULT_CALIBRATION = ("nyu-mll/glue", "sst2", "train", "sentence")
_DATASET_ARGUMENTS = ("dataset_name", "dataset_config_name", "dataset_split", "column_name")
"""The Hub dataset, config, split and column calibrating static quantization when none is given."""


def export_dynamic_quantized_onnx_model(
    model: BaseModel,
    quantization_config: QuantizationConfig | Literal["arm64", "avx2", "avx512", "avx512_vnni"],
    model_name_or_path: str,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str | None = None,
) -> None:
    """Quantize the ONNX graph of a model loaded with ``backend="onnx"`` to int8 weights (dynamic activations).

    Writes ``<model_name_or_path>/onnx/model_<dtype>_<preset>.onnx`` (``model_qint8_avx512_vnni.onnx``,
    ``model_quint8_avx2.onnx``…) or uploads it with ``push_to_hub``. The graph quantized is the one the model
    runs (load ``model_kwargs={"file_name": "model_O1.onnx"}`` to quantize an optimized one: levels up to O1 keep
    standard ops that the quantizer can type; O2+ fused graphs are best left in float32).

    Args:
        model: A SentenceTransformer or CrossEncoder loaded with ``backend="onnx"``.
        quantization_config: A :class:`~embedforge.backend.configs.QuantizationConfig` or a preset name.
        model_name_or_path: The model folder to write into, or the Hub repository with ``push_to_hub``.
        push_to_hub: Upload instead of writing locally.
        create_pr: Upload as a pull request (with ``push_to_hub``).
        file_suffix: The file's suffix; default ``<weights dtype>_<preset>``, or ``<weights dtype>_quantized``.

    Raises:
        ImportError: onnx / onnxruntime are not installed (``pip install "embedforge[onnx]"``).
        ValueError: The model was not loaded with ``backend="onnx"``, or the preset is unknown.
    """
    require_backend("onnx")
    source = _onnx_model_of(model)
    if isinstance(quantization_config, str):
        preset = quantization_config
        quantization_config = configs.quantization_config(preset)
        file_suffix = file_suffix or f"{quantization_config.weights_dtype.lower()}_{preset}"
    file_suffix = file_suffix or f"{quantization_config.weights_dtype.lower()}_quantized"
    config = quantization_config

    def export(save_dir: str) -> None:
        quantize_onnx_file(source.model_file, Path(save_dir) / f"model_{file_suffix}.onnx", config)

    save_or_push_to_hub_model(
        export,
        "export_dynamic_quantized_onnx_model",
        config,
        model_name_or_path,
        push_to_hub,
        create_pr,
        file_suffix,
        "onnx",
        model,
    )


def quantize_onnx_file(source: Path, target: Path, config: QuantizationConfig) -> Path:
    """Run ONNX Runtime's ``quantize_dynamic`` on ``source`` (shape inference first) and write ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if config.is_static:
        raise ValueError("export_dynamic_quantized_onnx_model quantizes dynamically; got is_static=True.")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_optimization=True, skip_symbolic_shape=True)
        quantize_dynamic(
            str(prepared),
            str(target),
            weight_type=QuantType[config.weights_dtype],
            per_channel=config.per_channel,
            reduce_range=config.reduce_range,
            op_types_to_quantize=config.operators_to_quantize or None,
            nodes_to_exclude=config.nodes_to_exclude or None,
            extra_options={
                "WeightSymmetric": config.weights_symmetric,
                "ActivationSymmetric": config.activations_symmetric,
            },
        )
    return target


def export_static_quantized_openvino_model(
    model: BaseModel,
    quantization_config: OVQuantizationConfig | dict[str, Any] | None,
    model_name_or_path: str,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    dataset_split: str | None = None,
    column_name: str | None = None,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str = "qint8_quantized",
) -> None:
    """Post-training static int8 quantization of a model loaded with ``backend="openvino"``, calibrated on texts.

    Writes ``<model_name_or_path>/openvino/openvino_model_<suffix>.xml`` + ``.bin`` or uploads them. The
    calibration texts come from ``datasets.load_dataset(dataset_name, dataset_config_name, split=dataset_split)``
    column ``column_name`` (default: GLUE SST-2 train sentences from the Hub); ``dataset_name`` may also be a local
    ``.csv``/``.tsv``/``.json``/``.jsonl``/``.parquet`` file (then ``dataset_config_name`` and ``dataset_split`` may
    be left out).

    Args:
        model: A SentenceTransformer or CrossEncoder loaded with ``backend="openvino"``.
        quantization_config: An :class:`~embedforge.backend.configs.OVQuantizationConfig`, a dict of its fields,
            or None for the defaults (300 samples, performance preset, transformer model type).
        model_name_or_path: The model folder to write into, or the Hub repository with ``push_to_hub``.
        dataset_name: Calibration dataset (Hub id or local file).
        dataset_config_name: Its configuration.
        dataset_split: Its split.
        column_name: The text column.
        push_to_hub: Upload instead of writing locally.
        create_pr: Upload as a pull request (with ``push_to_hub``).
        file_suffix: The file's suffix.

    Raises:
        ImportError: openvino / nncf / datasets are not installed (``pip install "embedforge[openvino]"``).
        ValueError: The model was not loaded with ``backend="openvino"``, or the dataset arguments are incomplete.
    """
    require_backend("openvino-quantize")
    source = _openvino_model_of(model)
    config = _ov_config(quantization_config)
    texts = calibration_texts(dataset_name, dataset_config_name, dataset_split, column_name, config.num_samples)

    def export(save_dir: str) -> None:
        from embedforge.backend.openvino_quantization import quantize_openvino_file

        target = Path(save_dir) / "openvino" / "openvino_model.xml"
        quantize_openvino_file(source.model_file, target, model.tokenizer, texts, config)

    save_or_push_to_hub_model(
        export,
        "export_static_quantized_openvino_model",
        config,
        model_name_or_path,
        push_to_hub,
        create_pr,
        file_suffix,
        "openvino",
        model,
    )


def calibration_texts(
    dataset_name: str | None, config_name: str | None, split: str | None, column: str | None, num_samples: int
) -> list[str]:
    """Up to ``num_samples`` texts of the calibration dataset, shuffled with a fixed seed."""
    given = [dataset_name, config_name, split, column]
    local = dataset_name is not None and Path(dataset_name).is_file()
    if local and column is None:
        raise ValueError(f"Calibrating on the local file {dataset_name!r} needs column_name (the text column).")
    if not local and any(value is not None for value in given) and not all(value is not None for value in given):
        raise ValueError(
            "Give all of dataset_name, dataset_config_name, dataset_split and column_name, or none of them "
            f"(got {dict(zip(_DATASET_ARGUMENTS, given, strict=True))})."
        )
    import datasets

    if local:
        path = Path(dataset_name)
        kind = {".tsv": "csv", ".jsonl": "json"}.get(path.suffix, path.suffix.lstrip("."))
        extra = {"delimiter": "\t"} if path.suffix == ".tsv" else {}
        data = datasets.load_dataset(kind, data_files=str(path), split=split or "train", **extra)
    else:
        name, config_name, split, column = (
            value or default for value, default in zip(given, DEFAULT_CALIBRATION, strict=True)
        )
        data = datasets.load_dataset(name, config_name, split=split)
    if column not in data.column_names:
        raise ValueError(f"The calibration data has no column {column!r}; its columns: {data.column_names}.")
    data = data.shuffle(seed=2016).select(range(min(num_samples, len(data))))
    return [str(text) for text in data[column]]


def _ov_config(config: OVQuantizationConfig | dict[str, Any] | None) -> OVQuantizationConfig:
    if config is None:
        return OVQuantizationConfig()
    if isinstance(config, dict):
        return OVQuantizationConfig(**config)
    return config


def _openvino_model_of(model: BaseModel) -> OpenVINOModel:
    from embedforge.backend.backend_model import runtime_model_of
    from embedforge.backend.openvino_model import OpenVINOModel

    return runtime_model_of(model, OpenVINOModel)
