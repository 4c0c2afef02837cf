"""Model names that are neither folders nor reachable Hub repositories fail with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedforge import SentenceTransformer
from embedforge.io.hub import ModelNotFoundError, resolve_model_folder


def test_local_folder_is_returned(tmp_path: Path) -> None:
    assert resolve_model_folder(tmp_path) == tmp_path


def test_missing_local_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"not a folder"):
        resolve_model_folder(str(tmp_path / "nope"))


def test_hub_id_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as info:
        SentenceTransformer("all-MiniLM-L6-v2", cache_folder=str(tmp_path), device="cpu")
    message = str(info.value)
    assert "sentence-transformers/all-MiniLM-L6-v2" in message  # the ST organization is tried first
    assert "Offline mode is on" in message
    assert "local model folder" in message


def test_folder_without_model_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="modules.json"):
        SentenceTransformer(str(tmp_path), device="cpu")
