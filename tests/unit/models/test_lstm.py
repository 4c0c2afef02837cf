"""LSTM: same parameters, outputs and saved folders as sentence-transformers' LSTM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import LoadContext
from embedforge.models.lstm import LSTM
from helpers import assert_features_close

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
pytestmark = pytest.mark.interop


def make_features() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "token_embeddings": torch.randn(3, 6, 8, generator=generator),
        "sentence_lengths": torch.tensor([4, 1, 0]),  # 0 is clamped to 1; output is padded to the longest (4)
    }


def run(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return module(make_features())


@pytest.fixture(params=[True, False], ids=["bidirectional", "forward-only"])
def pair(request: pytest.FixtureRequest) -> tuple[LSTM, torch.nn.Module]:
    kwargs = {"embedding_dimension": 8, "hidden_dim": 5, "num_layers": 2, "bidirectional": request.param}
    torch.manual_seed(2)
    theirs = st_modules.LSTM(**kwargs).eval()
    ours = LSTM(**kwargs).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def test_forward_matches_st(pair: tuple[LSTM, torch.nn.Module]) -> None:
    ours, theirs = pair
    out = run(ours)
    assert out["token_embeddings"].shape == (3, 4, ours.get_embedding_dimension())
    assert_features_close(out, run(theirs))
    assert ours.get_embedding_dimension() == theirs.get_embedding_dimension()


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_ours_load_st(pair: tuple[LSTM, torch.nn.Module], tmp_path: Path, safe_serialization: bool) -> None:
    ours, _ = pair
    ours.save(tmp_path, safe_serialization=safe_serialization)
    assert (tmp_path / "lstm_config.json").is_file()
    loaded = st_modules.LSTM.load(str(tmp_path)).eval()
    assert_features_close(run(ours), run(loaded))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_st_load_ours(pair: tuple[LSTM, torch.nn.Module], tmp_path: Path, safe_serialization: bool) -> None:
    ours, theirs = pair
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"), safe_serialization=safe_serialization)
    loaded = LSTM.load(tmp_path / "st", LoadContext()).eval()
    assert_features_close(run(loaded), run(theirs))
    ours.save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "lstm_config.json").read_text()) == json.loads(
        (tmp_path / "st" / "lstm_config.json").read_text()
    )


def test_config_round_trip_and_legacy_key(tmp_path: Path) -> None:
    ours = LSTM(embedding_dimension=4, hidden_dim=3, num_layers=1, dropout=0.0, bidirectional=False)
    config = ours.get_config_dict()
    assert config == {
        "embedding_dimension": 4,
        "hidden_dim": 3,
        "num_layers": 1,
        "dropout": 0.0,
        "bidirectional": False,
    }
    assert LSTM.from_config(config).get_config_dict() == config
    legacy = {"word_embedding_dimension": 4, "hidden_dim": 3, "num_layers": 1, "dropout": 0.0, "bidirectional": False}
    assert LSTM.from_config(legacy).get_config_dict() == config
    ours.save(tmp_path)
    (tmp_path / "lstm_config.json").write_text(json.dumps(legacy))
    features = {"token_embeddings": torch.randn(2, 3, 4), "sentence_lengths": torch.tensor([3, 2])}
    with torch.no_grad():
        mine = LSTM.load(tmp_path, LoadContext()).eval()({**features})
        st = st_modules.LSTM.load(str(tmp_path)).eval()({**features})
    assert_features_close(mine, st)
