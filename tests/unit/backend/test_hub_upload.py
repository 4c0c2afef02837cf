"""push_to_hub / create_pr of the export functions, checked offline by recording the upload call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("onnxruntime")

from embedforge import SentenceTransformer
from embedforge.backend import export_dynamic_quantized_onnx_model, export_optimized_onnx_model


def _record_uploads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import huggingface_hub

    calls: list[dict[str, Any]] = []

    def fake_upload(**kwargs: Any) -> None:
        kwargs["files"] = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        calls.append(kwargs)

    monkeypatch.setattr(huggingface_hub, "upload_folder", fake_upload)
    return calls


def test_push_to_hub_uploads_the_onnx_folder(bi_encoder_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_uploads(monkeypatch)
    model = SentenceTransformer(str(bi_encoder_path), backend="onnx", device="cpu")
    export_optimized_onnx_model(model, "O1", "user/my-model", push_to_hub=True)
    export_dynamic_quantized_onnx_model(model, "arm64", "user/my-model", push_to_hub=True, create_pr=True)
    assert [call["files"] for call in calls] == [["model_O1.onnx"], ["model_qint8_arm64.onnx"]]
    assert all(call["path_in_repo"] == "onnx" and call["repo_id"] == "user/my-model" for call in calls)
    assert calls[0]["create_pr"] is False and calls[0]["commit_description"] == ""
    assert calls[1]["create_pr"] is True
    assert 'model_kwargs={"file_name": "model_qint8_arm64.onnx"}' in calls[1]["commit_description"]
    assert "SentenceTransformer(" in calls[1]["commit_description"]
    assert not (Path("user") / "my-model").exists()
