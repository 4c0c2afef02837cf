"""Exported folders follow sentence-transformers 6.2's conventions: ST's own file resolution finds our files.

ST's ONNX/OpenVINO loading needs optimum, which cannot be installed beside ST 6.2 (it pins transformers < 5), but
the part that decides which file to load (``backend_should_export``) is plain Python: run both libraries' versions
on folders written by embedforge and compare.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("onnxruntime")
st_utils = pytest.importorskip("sentence_transformers.backend.utils")

from embedforge import SentenceTransformer  # noqa: E402
from embedforge.backend import export_dynamic_quantized_onnx_model, export_optimized_onnx_model  # noqa: E402
from embedforge.backend.utils import backend_should_export  # noqa: E402

CASES: list[dict[str, Any]] = [
    {},
    {"file_name": "model_O1.onnx"},
    {"file_name": "onnx/model_qint8_arm64.onnx"},
    {"file_name": "model_missing.onnx"},
    {"export": True},
    {"export": False, "file_name": "model.onnx"},
    {"subfolder": "onnx"},
]


@pytest.fixture
def exported(bi_encoder_path: Path) -> Path:
    model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    model.save(str(bi_encoder_path))
    export_optimized_onnx_model(model, "O1", str(bi_encoder_path))
    export_dynamic_quantized_onnx_model(model, "arm64", str(bi_encoder_path))
    return bi_encoder_path


@pytest.mark.parametrize("kwargs", CASES, ids=[str(case) for case in CASES])
def test_same_file_resolution_as_sentence_transformers(exported: Path, kwargs: dict[str, Any]) -> None:
    ours = backend_should_export(exported, True, copy.deepcopy(kwargs), "model.onnx", "*.onnx", "ONNX")
    theirs = st_utils.backend_should_export(exported, True, copy.deepcopy(kwargs), "model.onnx", "*.onnx", "ONNX")
    assert ours == theirs


def test_st_finds_the_files_embedforge_wrote(exported: Path) -> None:
    files = sorted(p.relative_to(exported).as_posix() for p in exported.glob("**/*.onnx"))
    assert files == ["onnx/model.onnx", "onnx/model_O1.onnx", "onnx/model_qint8_arm64.onnx"]
    export, kwargs = st_utils.backend_should_export(exported, True, {}, "model.onnx", "*.onnx", "ONNX")
    assert export is False and kwargs == {"subfolder": "onnx", "file_name": "model.onnx"}
