"""Dropout: same outputs and saved folders as sentence-transformers' Dropout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import LoadContext
from embedforge.models.dropout import Dropout

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
pytestmark = pytest.mark.interop


def make_features() -> dict[str, torch.Tensor]:
    return {"sentence_embedding": torch.randn(4, 16, generator=torch.Generator().manual_seed(0))}


def run(module: torch.nn.Module, seed: int = 3) -> torch.Tensor:
    torch.manual_seed(seed)
    return module(make_features())["sentence_embedding"]


@pytest.mark.parametrize("training", [False, True])
def test_forward_matches_st(training: bool) -> None:
    ours, theirs = Dropout(0.3).train(training), st_modules.Dropout(0.3).train(training)
    out = run(ours)
    torch.testing.assert_close(out, run(theirs), atol=1e-6, rtol=0)
    if not training:
        torch.testing.assert_close(out, make_features()["sentence_embedding"], atol=0, rtol=0)
    else:
        assert (out == 0).any()


def test_save_ours_load_st(tmp_path: Path) -> None:
    Dropout(0.25).save(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json"]
    loaded = st_modules.Dropout.load(str(tmp_path))
    assert loaded.dropout == 0.25
    torch.testing.assert_close(run(Dropout(0.25)), run(loaded), atol=1e-6, rtol=0)


def test_save_st_load_ours(tmp_path: Path) -> None:
    (tmp_path / "st").mkdir()
    st_modules.Dropout(0.25).save(str(tmp_path / "st"))
    loaded = Dropout.load(tmp_path / "st", LoadContext())
    assert loaded.dropout == 0.25
    torch.testing.assert_close(run(loaded), run(st_modules.Dropout(0.25)), atol=1e-6, rtol=0)
    Dropout(0.25).save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text()) == json.loads(
        (tmp_path / "st" / "config.json").read_text()
    )


def test_config_round_trip() -> None:
    assert Dropout().get_config_dict() == {"dropout": 0.2}
    assert Dropout.from_config({"dropout": 0.1}).get_config_dict() == {"dropout": 0.1}
