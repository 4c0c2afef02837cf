"""The model family is read from the folder: ``load_model`` and ``detect_model_type`` on every kind of folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedforge import CrossEncoder, SentenceTransformer
from embedforge.io import UnknownModuleTypeError
from embedforge.io.load import detect_model_type
from embedforge.model.loading import load_model
from model_builders import build_tiny_bert, build_tiny_classifier


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    bert = build_tiny_bert(root / "bert")
    classifier = build_tiny_classifier(root / "classifier")
    SentenceTransformer(str(bert), device="cpu").save(root / "bi")
    CrossEncoder(str(classifier), device="cpu").save(root / "ce")
    return {"bert": bert, "classifier": classifier, "bi": root / "bi", "ce": root / "ce"}


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("bert", "SentenceTransformer"),
        ("classifier", "CrossEncoder"),
        ("bi", "SentenceTransformer"),
        ("ce", "CrossEncoder"),
    ],
)
def test_family_is_read_from_the_folder(folders: dict[str, Path], folder: str, expected: str) -> None:
    assert detect_model_type(folders[folder]) == expected
    model = load_model(folders[folder], device="cpu")
    assert type(model).__name__ == expected
    assert model.model_card_data is not None


def test_folder_without_model_type_is_a_bi_encoder(folders: dict[str, Path], tmp_path: Path) -> None:
    """Folders written before families existed (no ``model_type`` key) are bi-encoders, as in sentence-transformers."""
    import shutil

    target = tmp_path / "old"
    shutil.copytree(folders["bi"], target)
    config_file = target / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text())
    config.pop("model_type")
    config_file.write_text(json.dumps(config))
    assert detect_model_type(target) == "SentenceTransformer"
    assert isinstance(load_model(target, device="cpu"), SentenceTransformer)


def test_explicit_model_type_wins(folders: dict[str, Path]) -> None:
    model = load_model(folders["bert"], model_type="CrossEncoder", device="cpu")
    assert isinstance(model, CrossEncoder) and model.num_labels == 1


def test_unimplemented_family_names_the_implemented_ones(folders: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "sparse"
    shutil.copytree(folders["bi"], target)
    config_file = target / "config_sentence_transformers.json"
    config_file.write_text(json.dumps(json.loads(config_file.read_text()) | {"model_type": "SparseEncoder"}))
    with pytest.raises(UnknownModuleTypeError, match=r"'SparseEncoder'.*SentenceTransformer, CrossEncoder"):
        load_model(target, device="cpu")
