"""Static int8 quantization of an OpenVINO IR model with NNCF, calibrated on tokenized texts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from embedforge.backend.configs import OVQuantizationConfig

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["quantize_openvino_file"]


def quantize_openvino_file(
    source: Path, target: Path, tokenizer: PreTrainedTokenizerBase, texts: list[str], config: OVQuantizationConfig
) -> Path:
    """Quantize the IR at ``source`` with NNCF on ``texts`` and write ``target`` (``.xml`` + ``.bin``).

    Each calibration text is tokenized alone, padded to ``config.max_length`` tokens, as sentence-transformers
    feeds optimum-intel's quantizer.
    """
    import nncf
    import openvino

    graph = openvino.Core().read_model(str(source))
    names = [port.get_any_name() for port in graph.inputs]
    samples = []
    for text in texts:
        encoded = tokenizer(
            text, padding="max_length", max_length=config.max_length, truncation=True, return_tensors="np"
        )
        samples.append({name: encoded[name].astype("int64") for name in names})
    quantized = nncf.quantize(
        graph,
        nncf.Dataset(samples),
        preset=nncf.QuantizationPreset(config.preset),
        model_type=nncf.ModelType(config.model_type),
        subset_size=len(samples),
        fast_bias_correction=config.fast_bias_correction,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    openvino.save_model(quantized, str(target), compress_to_fp16=False)
    return target
