"""The saved layout, and saving that never corrupts an existing folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedforge import SentenceTransformer
from embedforge.models import Dense


def test_layout_matches_st_6_2(tiny_bert_path: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.save(tmp_path / "m")
    saved = tmp_path / "m"
    entries = json.loads((saved / "modules.json").read_text(encoding="utf-8"))
    assert entries == [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
        },
    ]
    pooling = json.loads((saved / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    assert pooling == {"embedding_dimension": 32, "pooling_mode": "mean", "include_prompt": True}
    config = json.loads((saved / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "SentenceTransformer"
    assert config["similarity_fn_name"] == "cosine"
    assert "embedforge" in config["__version__"]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json"):
        assert (saved / name).is_file(), name
    assert not list(tmp_path.glob(".m.saving-*"))  # no staging folder left behind


def test_failed_save_leaves_existing_folder_intact(tiny_bert_path: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    target = tmp_path / "m"
    model.save(target)
    (target / "trainer_state.json").write_text("{}", encoding="utf-8")
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}

    class Unsaveable(Dense):
        def save(self, output_path: object, *, safe_serialization: bool = True) -> None:
            raise RuntimeError("disk full")

    model.append(Unsaveable(32, 4))
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(target)
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob(".m.saving-*"))


def test_save_keeps_foreign_files(tiny_bert_path: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    target = tmp_path / "m"
    target.mkdir()
    (target / "notes.txt").write_text("keep me", encoding="utf-8")
    model.save(target)
    assert (target / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_model_card_is_kept_when_resaving(minilm_path: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(minilm_path), device="cpu")
    model.save(tmp_path / "m")
    original = (minilm_path / "README.md").read_text(encoding="utf-8")
    assert (tmp_path / "m" / "README.md").read_text(encoding="utf-8") == original
