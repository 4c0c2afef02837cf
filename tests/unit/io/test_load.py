"""Loading resolves module types through the registry and never imports a path taken from a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from embedforge import SentenceTransformer
from embedforge.io import UnknownModuleTypeError, register_module
from embedforge.io.registry import BUILTIN_TYPES, resolve_type
from embedforge.models import Normalize, Pooling


def _write_modules(folder: Path, type_name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": type_name}]), encoding="utf-8"
    )


def test_unknown_module_type_is_a_clear_error_and_imports_nothing(tmp_path: Path) -> None:
    _write_modules(tmp_path / "m", "evil_package_xyz.payload.Exploit")
    assert "evil_package_xyz" not in sys.modules
    with pytest.raises(UnknownModuleTypeError) as info:
        SentenceTransformer(str(tmp_path / "m"), device="cpu")
    message = str(info.value)
    assert "evil_package_xyz.payload.Exploit" in message
    assert "Transformer" in message and "Pooling" in message  # the known types are listed
    assert "trust_remote_code=True" in message and "register_module" in message
    assert "evil_package_xyz" not in sys.modules


def test_unknown_type_fails_before_any_weights_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    entries = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_X", "type": "os.system"},
    ]
    (folder / "modules.json").write_text(json.dumps(entries), encoding="utf-8")
    # No transformer files exist: had loading started, the error would be about a missing config.json.
    with pytest.raises(UnknownModuleTypeError, match="os.system"):
        SentenceTransformer(str(folder), device="cpu")


def test_model_folder_code_is_not_run_without_trust(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _write_modules(folder, "custom_mod.Marker")
    marker = tmp_path / "ran.txt"
    (folder / "custom_mod.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n", encoding="utf-8")
    with pytest.raises(UnknownModuleTypeError):
        SentenceTransformer(str(folder), device="cpu")
    assert not marker.exists()


@pytest.mark.parametrize(
    "type_name",
    [
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.pooling.Pooling",
        "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
        "embedforge.models.Pooling",
    ],
)
def test_historical_st_names_resolve(type_name: str) -> None:
    assert resolve_type(type_name) is Pooling


def test_names_outside_known_prefixes_do_not_resolve() -> None:
    assert resolve_type("my_lib.Pooling") is None
    assert resolve_type("Pooling") is None


def test_every_builtin_type_resolves_to_its_class() -> None:
    for entry in BUILTIN_TYPES:
        cls = resolve_type(f"sentence_transformers.models.{entry.class_name}")
        assert cls is not None and cls.__name__ == entry.class_name
        if entry.class_name != "CLIPModel":  # saved under the Transformer's name, whose loader hands it over
            assert resolve_type(entry.st_name) is cls


def test_registered_custom_module_round_trips(tiny_bert_path: Path, tmp_path: Path) -> None:
    class Doubler(Normalize):
        def forward(self, features: dict, **kwargs: object) -> dict:
            features["sentence_embedding"] = features["sentence_embedding"] * 2
            return features

    register_module("my_package.Doubler", Doubler)
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.append(Doubler())
    model.save(tmp_path / "m")
    entries = json.loads((tmp_path / "m" / "modules.json").read_text(encoding="utf-8"))
    assert entries[-1]["type"] == "my_package.Doubler"
    back = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    assert type(back[-1]) is Doubler


def test_register_rejects_non_modules() -> None:
    with pytest.raises(TypeError, match="subclass of embedforge.models.Module"):
        register_module("x.Y", dict)  # type: ignore[arg-type]
