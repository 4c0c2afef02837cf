"""WeightedLayerPooling: same parameters, outputs and saved folders as sentence-transformers'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import LoadContext
from embedforge.models.weighted_layer_pooling import WeightedLayerPooling

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
pytestmark = pytest.mark.interop

Pair = tuple[WeightedLayerPooling, torch.nn.Module]
KWARGS = {"embedding_dimension": 6, "num_hidden_layers": 4, "layer_start": 2}


def make_features() -> dict[str, object]:
    generator = torch.Generator().manual_seed(0)
    return {
        "token_embeddings": torch.randn(2, 3, 6, generator=generator),
        "all_layer_embeddings": [torch.randn(2, 3, 6, generator=generator) for _ in range(5)],
    }


def run(module: torch.nn.Module) -> dict[str, object]:
    with torch.no_grad():
        return module(make_features())


def assert_same(ours: dict[str, object], theirs: dict[str, object]) -> None:
    assert set(ours) == set(theirs)
    torch.testing.assert_close(ours["token_embeddings"], theirs["token_embeddings"], atol=1e-6, rtol=0)


@pytest.fixture
def pair() -> Pair:
    theirs = st_modules.WeightedLayerPooling(**KWARGS)
    with torch.no_grad():
        theirs.layer_weights.copy_(torch.tensor([0.5, 2.0, 1.5]))
    ours = WeightedLayerPooling(**KWARGS)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def test_forward_matches_st(pair: Pair) -> None:
    ours, theirs = pair
    out = run(ours)
    assert_same(out, run(theirs))
    layers = make_features()["all_layer_embeddings"]
    expected = (0.5 * layers[2] + 2.0 * layers[3] + 1.5 * layers[4]) / 4.0
    torch.testing.assert_close(out["token_embeddings"], expected)
    assert ours.get_embedding_dimension() == 6


def test_without_hidden_states_passes_through(pair: Pair) -> None:
    ours, _ = pair
    features = {"token_embeddings": torch.ones(1, 2, 6)}
    assert ours(features)["token_embeddings"] is features["token_embeddings"]


def test_layer_weights_argument_matches_st() -> None:
    weights = torch.nn.Parameter(torch.tensor([1.0, 3.0, 2.0]))
    ours = WeightedLayerPooling(**KWARGS, layer_weights=weights)
    theirs = st_modules.WeightedLayerPooling(**KWARGS, layer_weights=weights)
    assert_same(run(ours), run(theirs))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_ours_load_st(pair: Pair, tmp_path: Path, safe_serialization: bool) -> None:
    ours, _ = pair
    ours.save(tmp_path, safe_serialization=safe_serialization)
    assert (tmp_path / "config.json").is_file()
    assert_same(run(ours), run(st_modules.WeightedLayerPooling.load(str(tmp_path))))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_st_load_ours(pair: Pair, tmp_path: Path, safe_serialization: bool) -> None:
    ours, theirs = pair
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"), safe_serialization=safe_serialization)
    assert_same(run(WeightedLayerPooling.load(tmp_path / "st", LoadContext())), run(theirs))
    ours.save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text()) == json.loads(
        (tmp_path / "st" / "config.json").read_text()
    )


def test_config_round_trip_and_legacy_key(pair: Pair, tmp_path: Path) -> None:
    ours, _ = pair
    config = ours.get_config_dict()
    assert config == {"embedding_dimension": 6, "layer_start": 2, "num_hidden_layers": 4}
    assert WeightedLayerPooling.from_config(config).get_config_dict() == config
    legacy = {"word_embedding_dimension": 6, "layer_start": 2, "num_hidden_layers": 4}
    assert WeightedLayerPooling.from_config(legacy).get_config_dict() == config
    ours.save(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(legacy))
    theirs = st_modules.WeightedLayerPooling.load(str(tmp_path))
    assert_same(run(WeightedLayerPooling.load(tmp_path, LoadContext())), run(theirs))
