"""CNN: same parameters, outputs and saved folders as sentence-transformers' CNN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import LoadContext
from embedforge.models.cnn import CNN
from helpers import assert_features_close

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
pytestmark = pytest.mark.interop

KWARGS = {"in_embedding_dimension": 8, "out_channels": 4, "kernel_sizes": [1, 3, 5]}


def make_features() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {"token_embeddings": torch.randn(3, 7, 8, generator=generator)}


def run(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return module(make_features())


@pytest.fixture
def pair() -> tuple[CNN, torch.nn.Module]:
    torch.manual_seed(1)
    theirs = st_modules.CNN(**KWARGS).eval()
    ours = CNN(**KWARGS).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def test_forward_matches_st(pair: tuple[CNN, torch.nn.Module]) -> None:
    ours, theirs = pair
    out = run(ours)
    assert out["token_embeddings"].shape == (3, 7, 12)
    assert_features_close(out, run(theirs))
    assert ours.get_embedding_dimension() == theirs.get_embedding_dimension() == 12


@pytest.mark.parametrize(("kernel_sizes", "stride_sizes"), [([2, 4], None), ([1, 3], [2, 2])])
def test_strides_and_even_kernels_match_st(kernel_sizes: list[int], stride_sizes: list[int] | None) -> None:
    kwargs = {"in_embedding_dimension": 8, "out_channels": 3, "kernel_sizes": kernel_sizes}
    kwargs["stride_sizes"] = stride_sizes
    theirs = st_modules.CNN(**kwargs).eval()
    ours = CNN(**kwargs).eval()
    ours.load_state_dict(theirs.state_dict())
    out = run(ours)
    assert out["token_embeddings"].shape[1] == (6 if stride_sizes is None else 4)
    assert_features_close(out, run(theirs))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_ours_load_st(pair: tuple[CNN, torch.nn.Module], tmp_path: Path, safe_serialization: bool) -> None:
    ours, _ = pair
    ours.save(tmp_path, safe_serialization=safe_serialization)
    assert (tmp_path / "cnn_config.json").is_file()
    assert (tmp_path / ("model.safetensors" if safe_serialization else "pytorch_model.bin")).is_file()
    loaded = st_modules.CNN.load(str(tmp_path)).eval()
    assert_features_close(run(ours), run(loaded))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_st_load_ours(pair: tuple[CNN, torch.nn.Module], tmp_path: Path, safe_serialization: bool) -> None:
    ours, theirs = pair
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"), safe_serialization=safe_serialization)
    loaded = CNN.load(tmp_path / "st", LoadContext()).eval()
    assert_features_close(run(loaded), run(theirs))
    ours.save(tmp_path / "ours", safe_serialization=safe_serialization)
    assert json.loads((tmp_path / "ours" / "cnn_config.json").read_text()) == json.loads(
        (tmp_path / "st" / "cnn_config.json").read_text()
    )


def test_config_round_trip_and_legacy_key(tmp_path: Path) -> None:
    ours = CNN(in_embedding_dimension=8, out_channels=2, kernel_sizes=[3], stride_sizes=[1])
    config = ours.get_config_dict()
    assert config == {"in_embedding_dimension": 8, "out_channels": 2, "kernel_sizes": [3], "stride_sizes": [1]}
    assert CNN.from_config(config).get_config_dict() == config
    legacy = {"in_word_embedding_dimension": 8, "out_channels": 2, "kernel_sizes": [3], "stride_sizes": [1]}
    assert CNN.from_config(legacy).get_config_dict() == config
    # a folder written by an old ST version loads in both libraries
    ours.save(tmp_path)
    (tmp_path / "cnn_config.json").write_text(json.dumps(legacy))
    mine, st = CNN.load(tmp_path, LoadContext()).eval(), st_modules.CNN.load(str(tmp_path)).eval()
    assert_features_close(run(mine), run(st))


def test_mismatched_strides_are_rejected() -> None:
    with pytest.raises(ValueError, match="one stride per kernel size"):
        CNN(in_embedding_dimension=4, kernel_sizes=[1, 3], stride_sizes=[1])
