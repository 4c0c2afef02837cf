"""The custom-module contract of sentence-transformers 6.2: a module whose own ``save``/``load`` use the helpers.

The module below is written the way ST's "Creating Custom Models" page shows (``save`` = ``save_config`` +
``save_torch_weights``; ``load`` = ``load_config`` + ``load_torch_weights``). The same source is built once on
embedforge's Module and once on ST's Module, so both libraries run identical module code.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.io import register_module
from embedforge.models import Pooling, Transformer
from embedforge.models.base import InputModule, Module

st_modules = pytest.importorskip("sentence_transformers.base.modules")

SCALE_SOURCE = textwrap.dedent(
    """
    import torch
    from torch import nn


    def make_scale_class(base):
        class ScaleModule(base):
            config_keys = ["dim", "init"]
            config_key_renames = {"size": "dim"}

            def __init__(self, dim, init=1.0):
                super().__init__()
                self.dim = dim
                self.init = init
                self.scale = nn.Parameter(torch.linspace(init, 2 * init, dim))
                self.ready_calls = []

            def forward(self, features, **kwargs):
                features["sentence_embedding"] = features["sentence_embedding"] * self.scale
                return features

            def get_sentence_embedding_dimension(self):
                return self.dim

            def on_model_ready(self, model):
                self.ready_calls.append(type(model).__name__)

            def save(self, output_path, *args, safe_serialization=True, **kwargs):
                self.save_config(output_path)
                self.save_torch_weights(output_path, safe_serialization=safe_serialization)

            @classmethod
            def load(cls, model_name_or_path, subfolder="", token=None, cache_folder=None, revision=None,
                     local_files_only=False, **kwargs):
                hub_kwargs = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder,
                              "revision": revision, "local_files_only": local_files_only}
                config = cls.load_config(model_name_or_path=model_name_or_path, **hub_kwargs)
                model = cls(**config)
                return cls.load_torch_weights(model_name_or_path=model_name_or_path, model=model, **hub_kwargs)

        return ScaleModule
    """
)
TYPE_NAME = "ef_custom_scale.ScaleModule"


def _scale_class(base: type) -> type:
    namespace: dict[str, Any] = {}
    exec(SCALE_SOURCE, namespace)
    return namespace["make_scale_class"](base)


EfScale = _scale_class(Module)
StScale = _scale_class(st_modules.Module)


@pytest.fixture
def saved_model(tiny_bert_path: Path, tmp_path: Path) -> tuple[SentenceTransformer, Path]:
    register_module(TYPE_NAME, EfScale)
    transformer = Transformer(str(tiny_bert_path))
    dim = transformer.get_word_embedding_dimension()
    model = SentenceTransformer(
        modules=[transformer, Pooling(dim, pooling_mode="mean"), EfScale(dim, 0.5)], device="cpu"
    )
    folder = tmp_path / "saved"
    model.save(str(folder))
    return model, folder


def test_custom_module_round_trip_gives_equal_embeddings(saved_model: tuple[SentenceTransformer, Path]) -> None:
    model, folder = saved_model
    entries = json.loads((folder / "modules.json").read_text())
    assert entries[2]["type"] == TYPE_NAME
    assert (folder / "2_ScaleModule" / "model.safetensors").is_file()
    reloaded = SentenceTransformer(str(folder), device="cpu")
    assert isinstance(reloaded[2], EfScale)
    texts = ["a custom module", "round trip"]
    torch.testing.assert_close(
        reloaded.encode(texts, convert_to_tensor=True), model.encode(texts, convert_to_tensor=True)
    )


def test_on_model_ready_runs_once_per_built_model(saved_model: tuple[SentenceTransformer, Path]) -> None:
    model, folder = saved_model
    assert model[2].ready_calls == ["SentenceTransformer"]
    assert SentenceTransformer(str(folder), device="cpu")[2].ready_calls == ["SentenceTransformer"]


def test_st_loads_the_same_module_code_from_embedforge_folder(
    saved_model: tuple[SentenceTransformer, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentence_transformers import SentenceTransformer as StSentenceTransformer

    model, folder = saved_model
    package = tmp_path / "code"
    package.mkdir()
    (package / "ef_custom_scale.py").write_text(
        SCALE_SOURCE
        + "\nfrom sentence_transformers.base.modules import Module\nScaleModule = make_scale_class(Module)\n"
    )
    monkeypatch.syspath_prepend(str(package))
    st_model = StSentenceTransformer(str(folder), device="cpu", trust_remote_code=True)
    assert st_model[2].ready_calls == ["SentenceTransformer"]
    texts = ["a custom module", "loaded by ST"]
    expected = st_model.encode(texts, convert_to_tensor=True)
    torch.testing.assert_close(model.encode(texts, convert_to_tensor=True), expected, atol=1e-5, rtol=1e-4)


def test_helpers_match_st_on_the_same_folder(saved_model: tuple[SentenceTransformer, Path]) -> None:
    _, folder = saved_model
    sub = "2_ScaleModule"
    config_file = folder / sub / "config.json"
    config_file.write_text(json.dumps({"size": 4, "init": 0.5}))  # an old key name, renamed on load
    assert EfScale.load_config(str(folder), subfolder=sub) == StScale.load_config(str(folder), subfolder=sub)
    assert EfScale.load_config(folder, subfolder=sub) == {"dim": 4, "init": 0.5}
    assert EfScale.load_config(str(folder), subfolder="missing") == StScale.load_config(str(folder), "missing") == {}
    for name in ("model.safetensors", "absent.json"):
        assert EfScale.load_file_path(str(folder), name, sub) == StScale.load_file_path(str(folder), name, sub)
    for subfolder in (sub, "", "absent"):
        assert EfScale.load_dir_path(str(folder), subfolder) == StScale.load_dir_path(str(folder), subfolder)
    ours = EfScale.load_torch_weights(str(folder), subfolder=sub)
    theirs = StScale.load_torch_weights(str(folder), subfolder=sub)
    assert ours.keys() == theirs.keys() == {"scale"}
    torch.testing.assert_close(ours["scale"], theirs["scale"])


def test_pickle_weights_fallback_matches_st(tmp_path: Path) -> None:
    module = EfScale(3, 2.0)
    module.save(str(tmp_path), safe_serialization=False)
    assert (tmp_path / "pytorch_model.bin").is_file()
    assert not (tmp_path / "model.safetensors").exists()
    ours = EfScale.load_torch_weights(str(tmp_path), model=EfScale(3))
    theirs = StScale.load_torch_weights(str(tmp_path), model=StScale(3))
    torch.testing.assert_close(ours.scale.detach(), theirs.scale.detach())
    torch.testing.assert_close(ours.scale.detach(), module.scale.detach())


def test_missing_weights_and_mismatched_names_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model.safetensors or pytorch_model.bin"):
        EfScale.load_torch_weights(str(tmp_path))
    EfScale(3).save_torch_weights(str(tmp_path))

    class Other(Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(3))

        def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return features

    with pytest.raises(RuntimeError, match="missing keys \\['weight'\\], unexpected keys \\['scale'\\]"):
        Module.load_torch_weights(str(tmp_path), model=Other())


def test_paths_outside_the_model_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="relative"):
        Module.load_file_path(str(tmp_path), "config.json", subfolder="../elsewhere")
    with pytest.raises(ValueError, match="relative"):
        Module.load_dir_path(str(tmp_path), "/etc")


def test_save_config_filename_and_renames_in_builtin_loading(tmp_path: Path) -> None:
    module = EfScale(2)
    module.save_config(str(tmp_path / "new"), filename="other.json")
    assert json.loads((tmp_path / "new" / "other.json").read_text()) == {"dim": 2, "init": 1.0}
    assert EfScale.load_config(tmp_path / "new", config_filename="other.json") == {"dim": 2, "init": 1.0}


def test_save_tokenizer_writes_what_st_writes(tiny_bert_path: Path, tmp_path: Path) -> None:
    transformer = Transformer(str(tiny_bert_path))
    assert isinstance(transformer, InputModule)
    transformer.save_tokenizer(str(tmp_path / "ours"))
    st_transformer = st_modules.Transformer(str(tiny_bert_path))
    st_transformer.save_tokenizer(str(tmp_path / "theirs"))
    ours = sorted(path.name for path in (tmp_path / "ours").iterdir())
    assert ours == sorted(path.name for path in (tmp_path / "theirs").iterdir())
    assert "tokenizer_config.json" in ours


class _Renamed(Module):
    """A module using the default load, whose ``width`` was saved as ``size`` by an older version."""

    config_keys = ("width",)
    config_key_renames: ClassVar[dict[str, str]] = {"size": "width"}

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return features


def test_default_load_applies_config_key_renames(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"size": 7}))
    assert _Renamed.load(tmp_path).width == 7
    # with both names saved, the old key is left in place (as in ST), so the new one is never overwritten
    (tmp_path / "config.json").write_text(json.dumps({"size": 7, "width": 3}))
    st_renamed = type("StRenamed", (st_modules.Module,), {"config_key_renames": {"size": "width"}})
    assert _Renamed.load_config(tmp_path) == st_renamed.load_config(str(tmp_path)) == {"size": 7, "width": 3}
