"""``export_optimized_onnx_model``: ONNX Runtime's graph optimizer on a model loaded with ``backend="onnx"``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from embedforge.backend import configs
from embedforge.backend.configs import OptimizationConfig
from embedforge.backend.requirements import require_backend
from embedforge.backend.utils import save_or_push_to_hub_model

if TYPE_CHECKING:
    from embedforge.backend.onnx_model import ONNXModel
    from embedforge.model.base import BaseModel

__all__ = ["ORT_MODEL_TYPES", "export_optimized_onnx_model", "optimize_onnx_file"]

logger = logging.getLogger(__name__)

ORT_MODEL_TYPES: dict[str, str] = {
    **dict.fromkeys(
        (
            "bert",
            "albert",
            "camembert",
            "distilbert",
            "electra",
            "roberta",
            "xlm-roberta",
            "mpnet",
            "deberta",
            "deberta-v2",
            "ernie",
            "nomic_bert",
            "modernbert",
            "mobilebert",
            "xlm",
            "layoutlm",
        ),
        "bert",
    ),
    "bart": "bart",
    "t5": "t5",
    "mt5": "t5",
    "gpt2": "gpt2",
}
"""transformers model type -> the model type ONNX Runtime's optimizer fuses for (as optimum maps them)."""


def export_optimized_onnx_model(
    model: BaseModel,
    optimization_config: OptimizationConfig | Literal["O1", "O2", "O3", "O4"],
    model_name_or_path: str,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str | None = None,
) -> None:
    """Optimize the ONNX graph of a model loaded with ``backend="onnx"`` and save it beside the others.

    Writes ``<model_name_or_path>/onnx/model_<suffix>.onnx`` (e.g. ``model_O3.onnx``), or uploads it to the Hub
    repository ``model_name_or_path`` with ``push_to_hub``. Load it with
    ``SentenceTransformer(path, backend="onnx", model_kwargs={"file_name": "model_O3.onnx"})``.

    Levels: O1 basic general optimizations; O2 extended ones and transformers fusions (attention, skip layer norm,
    bias GELU); O3 O2 with the GELU approximation; O4 O3 in float16 (for GPU execution providers).

    Args:
        model: A SentenceTransformer or CrossEncoder loaded with ``backend="onnx"``.
        optimization_config: An :class:`~embedforge.backend.configs.OptimizationConfig` or a level name.
        model_name_or_path: The model folder to write into, or the Hub repository with ``push_to_hub``.
        push_to_hub: Upload instead of writing locally.
        create_pr: Upload as a pull request (with ``push_to_hub``).
        file_suffix: The file's suffix; default: the level name, or ``"optimized"`` for a config object.

    Raises:
        ImportError: onnx / onnxruntime are not installed (``pip install "embedforge[onnx]"``).
        ValueError: The model was not loaded with ``backend="onnx"``, or the level is unknown.
    """
    require_backend("onnx")
    source = _onnx_model_of(model)
    if isinstance(optimization_config, str):
        file_suffix = file_suffix or optimization_config
        optimization_config = configs.optimization_config(optimization_config)
    file_suffix = file_suffix or "optimized"
    config = optimization_config

    def export(save_dir: str) -> None:
        optimize_onnx_file(source.model_file, Path(save_dir) / f"model_{file_suffix}.onnx", config, source)

    save_or_push_to_hub_model(
        export,
        "export_optimized_onnx_model",
        config,
        model_name_or_path,
        push_to_hub,
        create_pr,
        file_suffix,
        "onnx",
        model,
    )


def optimize_onnx_file(source: Path, target: Path, config: OptimizationConfig, model: ONNXModel) -> Path:
    """Run ONNX Runtime's transformer optimizer on ``source`` and write ``target``."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    model_type = model.config.model_type
    if model_type not in ORT_MODEL_TYPES:
        raise ValueError(
            f"ONNX Runtime's optimizer knows no fusions for model type {model_type!r}; supported: "
            f"{sorted(ORT_MODEL_TYPES)}. Use the unoptimized model.onnx, or quantize it directly."
        )
    ort_type = ORT_MODEL_TYPES[model_type]
    options = FusionOptions(ort_type)
    options.enable_gelu_approximation = config.enable_gelu_approximation
    options.enable_embed_layer_norm = not config.disable_embed_layer_norm_fusion
    optimized = optimize_model(
        str(source),
        model_type=ort_type,
        num_heads=int(getattr(model.config, "num_attention_heads", 0) or 0),
        hidden_size=int(getattr(model.config, "hidden_size", 0) or 0),
        opt_level=config.optimization_level,
        optimization_options=options,
        use_gpu=config.optimize_for_gpu,
        only_onnxruntime=not config.enable_transformers_specific_optimizations,
    )
    if config.fp16:
        optimized.convert_float_to_float16(keep_io_types=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    optimized.save_model_to_file(str(target))
    logger.info("Optimized graph: %s", optimized.get_fused_operator_statistics())
    return target


def _onnx_model_of(model: BaseModel) -> ONNXModel:
    from embedforge.backend.backend_model import runtime_model_of
    from embedforge.backend.onnx_model import ONNXModel

    return runtime_model_of(model, ONNXModel)
