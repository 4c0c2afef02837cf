"""The OpenVINO backend: export on first load, the saved layout, equality with torch, static int8 quantization.

Run in a fresh interpreter by test_openvino_backend.py (see there why).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")

from embedforge import CrossEncoder, SentenceTransformer
from embedforge.backend import OpenVINOModel, export_static_quantized_openvino_model

TEXTS = ["a cat sat on the mat", "dogs run", "the quick brown fox jumps over the lazy dog again and again", "x"]


def test_openvino_exports_saves_and_reloads(bi_encoder_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference = SentenceTransformer(str(bi_encoder_path), device="cpu").encode(TEXTS)
    with caplog.at_level(logging.WARNING):
        model = SentenceTransformer(str(bi_encoder_path), backend="openvino", device="cpu")
    assert "exporting the model to OpenVINO" in caplog.text
    assert isinstance(model.transformers_model, OpenVINOModel)
    np.testing.assert_allclose(model.encode(TEXTS), reference, atol=1e-5)
    model.save(str(bi_encoder_path))
    assert sorted(p.name for p in (bi_encoder_path / "openvino").iterdir()) == [
        "openvino_model.bin",
        "openvino_model.xml",
    ]
    st_utils = pytest.importorskip("sentence_transformers.backend.utils")
    export, kwargs = st_utils.backend_should_export(
        bi_encoder_path, True, {}, "openvino_model.xml", "openvino*.xml", "OpenVINO"
    )
    assert export is False and kwargs == {"subfolder": "openvino", "file_name": "openvino_model.xml"}
    again = SentenceTransformer(str(bi_encoder_path), backend="openvino", device="cpu", model_kwargs={"ov_config": {}})
    np.testing.assert_allclose(again.encode(TEXTS), reference, atol=1e-5)


def test_ov_config_from_json_file_and_bad_path(bi_encoder_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "ov.json"
    config.write_text('{"PERFORMANCE_HINT": "THROUGHPUT"}')
    model = SentenceTransformer(
        str(bi_encoder_path), backend="openvino", device="cpu", model_kwargs={"ov_config": str(config)}
    )
    assert model.transformers_model.ov_config["PERFORMANCE_HINT"] == "THROUGHPUT"
    with pytest.raises(ValueError, match="ov_config must be a dict or the path of a JSON file"):
        SentenceTransformer(
            str(bi_encoder_path), backend="openvino", device="cpu", model_kwargs={"ov_config": "missing.json"}
        )


def test_static_quantization_on_a_local_calibration_file(bi_encoder_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    texts = tmp_path / "calibration.csv"
    with open(texts, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence"])
        writer.writerows([[f"sentence number {i} about cats and dogs"] for i in range(20)])
    model = SentenceTransformer(str(bi_encoder_path), backend="openvino", device="cpu")
    export_static_quantized_openvino_model(
        model,
        {"num_samples": 8, "max_length": 16},
        str(bi_encoder_path),
        dataset_name=str(texts),
        column_name="sentence",
    )
    folder = bi_encoder_path / "openvino"
    assert sorted(p.name for p in folder.iterdir()) == [
        "openvino_model_qint8_quantized.bin",
        "openvino_model_qint8_quantized.xml",
    ]
    quantized = SentenceTransformer(
        str(bi_encoder_path),
        backend="openvino",
        device="cpu",
        model_kwargs={"file_name": "openvino_model_qint8_quantized.xml"},
    )
    ours = quantized.encode(TEXTS, normalize_embeddings=True)
    reference = model.encode(TEXTS, normalize_embeddings=True)
    assert (ours * reference).sum(axis=1).min() > 0.9


def test_calibration_arguments_all_or_none(bi_encoder_path: Path) -> None:
    model = SentenceTransformer(str(bi_encoder_path), backend="openvino", device="cpu")
    with pytest.raises(ValueError, match="all of dataset_name"):
        export_static_quantized_openvino_model(model, None, str(bi_encoder_path), dataset_name="some/dataset")
    torch_model = SentenceTransformer(str(bi_encoder_path), device="cpu")
    with pytest.raises(ValueError, match="backend='openvino'"):
        export_static_quantized_openvino_model(torch_model, None, str(bi_encoder_path))


def test_cross_encoder_on_openvino_matches_torch(cross_encoder_path: Path) -> None:
    pairs = [("a question", "an answer"), ("cats", "dogs bark loudly at night")]
    reference = CrossEncoder(str(cross_encoder_path), device="cpu").predict(pairs)
    model = CrossEncoder(str(cross_encoder_path), backend="openvino", device="cpu")
    np.testing.assert_allclose(model.predict(pairs), reference, atol=1e-5)


def test_bi_encoder_evaluators_match_torch_on_openvino(bi_encoder_path: Path) -> None:
    from test_evaluators_on_backends import test_bi_encoder_evaluators_match_torch

    test_bi_encoder_evaluators_match_torch(bi_encoder_path, backend="openvino")


def test_throughput_hint_runs_streams_concurrently_with_the_same_results(bi_encoder_path: Path) -> None:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        default = SentenceTransformer(str(bi_encoder_path), backend="openvino", device="cpu")
        latency = SentenceTransformer(
            str(bi_encoder_path),
            backend="openvino",
            device="cpu",
            model_kwargs={"ov_config": {"PERFORMANCE_HINT": "LATENCY"}},
        )
    finally:
        torch.set_num_threads(previous)
    assert default.transformers_model.ov_config["PERFORMANCE_HINT"] == "THROUGHPUT"
    # float32 inference, also on CPUs where OpenVINO's own default is bfloat16 (AMX, AVX512-BF16)
    assert str(default.transformers_model.compiled.get_property("INFERENCE_PRECISION_HINT")) == "<Type: 'float32'>"
    assert default.transformers_model.streams == 2
    assert latency.transformers_model.streams == 1
    texts = [f"sentence number {i} " + "word " * (i % 13) for i in range(70)]
    np.testing.assert_allclose(default.encode(texts, batch_size=8), latency.encode(texts, batch_size=8), atol=1e-5)


def _runtime_layer_types(compiled: object) -> set[str]:
    return {op.get_rt_info()["layerType"].astype(str) for op in compiled.get_runtime_model().get_ops()}


def test_short_batches_run_on_a_compilation_without_snippets(bi_encoder_path: Path) -> None:
    from embedforge.backend.openvino_model import SHORT_SEQUENCE_LENGTH

    short_texts = ["a cat", "dogs run", "x", "the fox"]
    long_texts = [" ".join(["word"] * 40) + f" {i}" for i in range(4)]
    plain = SentenceTransformer(
        str(bi_encoder_path), backend="openvino", device="cpu", model_kwargs={"short_sequence_length": 0}
    )
    model = SentenceTransformer(
        str(bi_encoder_path), backend="openvino", device="cpu", model_kwargs={"short_sequence_length": 16}
    )
    runtime = model.transformers_model
    assert (
        SentenceTransformer(
            str(bi_encoder_path), backend="openvino", device="cpu"
        ).transformers_model.short_sequence_length
        == SHORT_SEQUENCE_LENGTH
    )
    assert plain.transformers_model.short_sequence_length == 0
    np.testing.assert_allclose(model.encode(long_texts), plain.encode(long_texts), atol=1e-5)
    assert runtime._short_pool is None  # long batches only: the second compilation is never made
    np.testing.assert_allclose(model.encode(short_texts), plain.encode(short_texts), atol=1e-5)
    short = runtime._short_pool
    assert short is not None and short is not runtime.pool and short.streams == runtime.streams
    # the main compilation fuses attention and LayerNorm into snippets subgraphs, the short one does not
    assert "Subgraph" in _runtime_layer_types(runtime.compiled)
    assert "Subgraph" not in _runtime_layer_types(short.compiled)
    mixed = short_texts + long_texts
    np.testing.assert_allclose(model.encode(mixed, batch_size=2), plain.encode(mixed, batch_size=2), atol=1e-5)


def test_short_sequence_length_off_with_own_snippets_mode_or_rejected_properties(
    bi_encoder_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from embedforge.backend import openvino_model

    own = SentenceTransformer(
        str(bi_encoder_path),
        backend="openvino",
        device="cpu",
        model_kwargs={"ov_config": {"SNIPPETS_MODE": "DISABLE"}},
    )
    assert own.transformers_model.short_sequence_length == 0
    with pytest.raises(ValueError, match="short_sequence_length must be a whole number of tokens >= 0"):
        SentenceTransformer(
            str(bi_encoder_path), backend="openvino", device="cpu", model_kwargs={"short_sequence_length": -1}
        )
    monkeypatch.setattr(openvino_model, "SHORT_SEQUENCE_PROPERTIES", {"NO_SUCH_OPENVINO_PROPERTY": "1"})
    model = SentenceTransformer(str(bi_encoder_path), backend="openvino", device="cpu")
    reference = SentenceTransformer(str(bi_encoder_path), device="cpu").encode(TEXTS)
    with caplog.at_level(logging.INFO, logger="embedforge.backend.openvino_model"):
        np.testing.assert_allclose(model.encode(TEXTS), reference, atol=1e-5)
    assert "all batches run on one compilation" in caplog.text
    runtime = model.transformers_model
    assert runtime.short_sequence_length == 0 and runtime._short_pool is runtime.pool
