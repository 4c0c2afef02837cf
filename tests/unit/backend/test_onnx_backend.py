"""The ONNX backend: export on first load, the saved layout, reloading, equality with torch, export functions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from embedforge import CrossEncoder, SentenceTransformer
from embedforge.backend import (
    ONNXModel,
    export_dynamic_quantized_onnx_model,
    export_optimized_onnx_model,
)

TEXTS = ["a cat sat on the mat", "dogs run", "the quick brown fox jumps over the lazy dog again and again", "x"]


def test_first_load_exports_warns_and_matches_torch(bi_encoder_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference = SentenceTransformer(str(bi_encoder_path), device="cpu").encode(TEXTS)
    with caplog.at_level(logging.WARNING):
        model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    assert "exporting the model to ONNX" in caplog.text
    assert isinstance(model.transformers_model, ONNXModel)
    assert model.get_backend() == "onnx"
    assert not (bi_encoder_path / "onnx").exists()  # nothing written until saved
    np.testing.assert_allclose(model.encode(TEXTS), reference, atol=1e-5)


def test_save_writes_st_layout_and_reload_skips_export(
    bi_encoder_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    target = tmp_path / "saved"
    model.save(str(target))
    assert (target / "onnx" / "model.onnx").is_file()
    assert (target / "config.json").is_file()
    assert not (target / "model.safetensors").exists()
    modules = json.loads((target / "modules.json").read_text())
    assert modules[0]["type"] == "sentence_transformers.base.modules.transformer.Transformer"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = SentenceTransformer(str(target), backend="onnx", device="cpu")
    assert "exporting" not in caplog.text
    np.testing.assert_array_equal(again.encode(TEXTS), model.encode(TEXTS))


def test_graph_follows_optimum_conventions(bi_encoder_path: Path) -> None:
    import onnx

    SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu").save(str(bi_encoder_path))
    graph = onnx.load(str(bi_encoder_path / "onnx" / "model.onnx")).graph
    assert [node.name for node in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [node.name for node in graph.output] == ["last_hidden_state"]
    dims = [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch_size", "sequence_length"]


def test_encode_options_work_on_onnx(bi_encoder_path: Path) -> None:
    torch_model = SentenceTransformer(str(bi_encoder_path), device="cpu", prompts={"query": "query: "})
    onnx_model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu", prompts={"query": "query: "})
    for kwargs in (
        {"prompt_name": "query"},
        {"truncate_dim": 8},
        {"normalize_embeddings": True},
        {"output_value": "token_embeddings"},
    ):
        ours, theirs = onnx_model.encode(TEXTS, **kwargs), torch_model.encode(TEXTS, **kwargs)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert onnx_model.encode(TEXTS, truncate_dim=8).shape == (4, 8)
    int8 = onnx_model.encode(TEXTS, precision="int8")
    assert int8.dtype == np.int8


def test_optimize_and_quantize_write_st_file_names(bi_encoder_path: Path) -> None:
    model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    reference = model.encode(TEXTS)
    export_optimized_onnx_model(model, "O2", str(bi_encoder_path))
    export_dynamic_quantized_onnx_model(model, "avx512_vnni", str(bi_encoder_path))
    export_dynamic_quantized_onnx_model(model, "avx2", str(bi_encoder_path))
    names = sorted(path.name for path in (bi_encoder_path / "onnx").iterdir())
    assert names == ["model_O2.onnx", "model_qint8_avx512_vnni.onnx", "model_quint8_avx2.onnx"]
    optimized = SentenceTransformer(
        str(bi_encoder_path), backend="onnx", device="cpu", model_kwargs={"file_name": "model_O2.onnx"}
    )
    assert optimized.transformers_model.source_file_name == "model_O2.onnx"
    np.testing.assert_allclose(optimized.encode(TEXTS), reference, atol=1e-5)
    quantized = SentenceTransformer(
        str(bi_encoder_path), backend="onnx", device="cpu", model_kwargs={"file_name": "onnx/model_quint8_avx2.onnx"}
    )
    cosine = quantized.encode(TEXTS, normalize_embeddings=True) * model.encode(TEXTS, normalize_embeddings=True)
    assert cosine.sum(axis=1).min() > 0.95


def test_export_functions_refuse_a_torch_model(bi_encoder_path: Path) -> None:
    model = SentenceTransformer(str(bi_encoder_path), device="cpu")
    with pytest.raises(ValueError, match="backend='onnx'"):
        export_optimized_onnx_model(model, "O1", str(bi_encoder_path))
    onnx_model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    with pytest.raises(ValueError, match="one of"):
        export_optimized_onnx_model(onnx_model, "O9", str(bi_encoder_path))
    with pytest.raises(ValueError, match="one of"):
        export_dynamic_quantized_onnx_model(onnx_model, "avx9", str(bi_encoder_path))


def test_cross_encoder_on_onnx_matches_torch(cross_encoder_path: Path) -> None:
    pairs = [("a question", "an answer"), ("cats", "dogs bark loudly at night")]
    reference = CrossEncoder(str(cross_encoder_path), device="cpu").predict(pairs)
    model = CrossEncoder(str(cross_encoder_path), backend="onnx", device="cpu")
    np.testing.assert_allclose(model.predict(pairs), reference, atol=1e-5)
    model.save(str(cross_encoder_path))
    import onnx

    graph = onnx.load(str(cross_encoder_path / "onnx" / "model.onnx")).graph
    assert [node.name for node in graph.output] == ["logits"]
    ranked = CrossEncoder(str(cross_encoder_path), backend="onnx", device="cpu").rank("a question", ["x", "y z"])
    assert len(ranked) == 2


def test_file_name_with_folder_and_several_files_warning(
    bi_encoder_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    model.save(str(bi_encoder_path))
    export_optimized_onnx_model(model, "O1", str(bi_encoder_path))
    with caplog.at_level(logging.WARNING):
        SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    assert "Several ONNX files" in caplog.text
    nested = SentenceTransformer(
        str(bi_encoder_path), backend="onnx", device="cpu", model_kwargs={"file_name": "onnx/model_O1.onnx"}
    )
    assert nested.transformers_model.source_file_name == "model_O1.onnx"


def test_training_an_onnx_model_fails_before_any_step(bi_encoder_path: Path) -> None:
    from datasets import Dataset

    from embedforge import SentenceTransformerTrainer
    from embedforge.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    data = Dataset.from_dict({"anchor": ["a", "b"], "positive": ["c", "d"]})
    with pytest.raises(ValueError, match="inference only"):
        SentenceTransformerTrainer(model=model, train_dataset=data, loss=MultipleNegativesRankingLoss(model))


def test_onnx_model_has_no_parameters_and_stays_in_eval(bi_encoder_path: Path) -> None:
    model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    model.train()
    assert not model.transformers_model.training
    assert list(model.transformers_model.parameters()) == []
    features = model.tokenize(TEXTS)
    with torch.no_grad():
        out = model(features)
    assert out["sentence_embedding"].shape[0] == 4


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from embedforge.backend.requirements import require_backend

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name))
    with pytest.raises(ImportError, match=r'pip install "embedforge\[onnx\]"'):
        require_backend("onnx")


def test_streams_default_to_torch_threads_and_give_the_same_embeddings(bi_encoder_path: Path) -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        default = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
        single = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu", model_kwargs={"streams": 1})
    finally:
        torch.set_num_threads(previous)
    assert default.transformers_model.streams == 2
    assert default.transformers_model.session.get_session_options().intra_op_num_threads == 1
    assert single.transformers_model.streams == 1
    assert single.transformers_model.session.get_session_options().intra_op_num_threads == 2
    texts = [f"sentence number {i} " + "word " * (i % 13) for i in range(70)]
    np.testing.assert_allclose(default.encode(texts, batch_size=8), single.encode(texts, batch_size=8), atol=1e-6)
    # fewer batches than streams: one batch is split between the streams, results unchanged
    np.testing.assert_allclose(default.encode(TEXTS), single.encode(TEXTS), atol=1e-6)


def test_streams_with_own_session_options_and_bad_values(bi_encoder_path: Path) -> None:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    model = SentenceTransformer(
        str(bi_encoder_path), backend="onnx", device="cpu", model_kwargs={"session_options": options}
    )
    assert model.transformers_model.streams == 1  # the caller's threading is kept as given
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="streams must be a positive int"):
            SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu", model_kwargs={"streams": bad})


def test_cross_encoder_predict_with_streams_matches_one_stream(cross_encoder_path: Path) -> None:
    pairs = [(f"query {i}", "passage " + "text " * (i % 11)) for i in range(40)]
    many = CrossEncoder(str(cross_encoder_path), backend="onnx", device="cpu", model_kwargs={"streams": 3})
    one = CrossEncoder(str(cross_encoder_path), backend="onnx", device="cpu", model_kwargs={"streams": 1})
    np.testing.assert_allclose(many.predict(pairs, batch_size=4), one.predict(pairs, batch_size=4), atol=1e-6)
