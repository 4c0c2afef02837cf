"""LayerNorm: same parameters, outputs and saved folders as sentence-transformers' LayerNorm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import LoadContext
from embedforge.models.layer_norm import LayerNorm
from helpers import assert_features_close

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
pytestmark = pytest.mark.interop


def make_features() -> dict[str, torch.Tensor]:
    return {"sentence_embedding": torch.randn(4, 6, generator=torch.Generator().manual_seed(0)) * 3 + 1}


def run(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return module(make_features())


@pytest.fixture
def pair() -> tuple[LayerNorm, torch.nn.Module]:
    theirs = st_modules.LayerNorm(6)
    with torch.no_grad():
        theirs.norm.weight.copy_(torch.linspace(0.5, 2.0, 6))
        theirs.norm.bias.copy_(torch.linspace(-1.0, 1.0, 6))
    ours = LayerNorm(6)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def test_forward_matches_st(pair: tuple[LayerNorm, torch.nn.Module]) -> None:
    ours, theirs = pair
    assert_features_close(run(ours), run(theirs))
    assert ours.get_sentence_embedding_dimension() == ours.get_embedding_dimension() == 6


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_ours_load_st(pair: tuple[LayerNorm, torch.nn.Module], tmp_path: Path, safe_serialization: bool) -> None:
    ours, _ = pair
    ours.save(tmp_path, safe_serialization=safe_serialization)
    assert_features_close(run(ours), run(st_modules.LayerNorm.load(str(tmp_path))))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_st_load_ours(pair: tuple[LayerNorm, torch.nn.Module], tmp_path: Path, safe_serialization: bool) -> None:
    ours, theirs = pair
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"), safe_serialization=safe_serialization)
    assert_features_close(run(LayerNorm.load(tmp_path / "st", LoadContext())), run(theirs))
    ours.save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text()) == json.loads(
        (tmp_path / "st" / "config.json").read_text()
    )


def test_config_round_trip() -> None:
    config = LayerNorm(5).get_config_dict()
    assert config == {"dimension": 5}
    assert LayerNorm.from_config(config).get_config_dict() == config
