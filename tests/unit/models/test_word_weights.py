"""WordWeights: same weights, outputs and saved folders as sentence-transformers' WordWeights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import LoadContext
from embedforge.models.word_weights import WordWeights
from helpers import assert_features_close

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
pytestmark = pytest.mark.interop

VOCAB = ["PAD", "Dog", "cat", "runs", "the", "Park"]
WEIGHTS = {"dog": 2.5, "cat": 0.5, "the": 0.1, "park": 3.0, "absent": 9.0}


def make_features() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.tensor([[1, 3, 5, 0], [2, 4, 0, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]),
        "token_embeddings": torch.randn(2, 4, 6, generator=generator),
    }


def run(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return module(make_features())


def test_weights_and_forward_match_st() -> None:
    ours = WordWeights(VOCAB, WEIGHTS, unknown_word_weight=0.7)
    theirs = st_modules.WordWeights(VOCAB, WEIGHTS, unknown_word_weight=0.7)
    assert set(ours.state_dict()) == set(theirs.state_dict()) == {"emb_layer.weight"}
    torch.testing.assert_close(ours.emb_layer.weight, theirs.emb_layer.weight, atol=0, rtol=0)
    out = run(ours)
    assert_features_close(out, run(theirs))
    torch.testing.assert_close(out["token_weights_sum"], torch.tensor([2.5 + 0.7 + 3.0, 0.5 + 0.1]))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_ours_load_st(tmp_path: Path, safe_serialization: bool) -> None:
    ours = WordWeights(VOCAB, WEIGHTS)
    ours.save(tmp_path, safe_serialization=safe_serialization)
    assert (tmp_path / "config.json").is_file()
    assert_features_close(run(ours), run(st_modules.WordWeights.load(str(tmp_path))))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_st_load_ours(tmp_path: Path, safe_serialization: bool) -> None:
    theirs = st_modules.WordWeights(VOCAB, WEIGHTS)
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"), safe_serialization=safe_serialization)
    assert_features_close(run(WordWeights.load(tmp_path / "st", LoadContext())), run(theirs))
    WordWeights(VOCAB, WEIGHTS).save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text()) == json.loads(
        (tmp_path / "st" / "config.json").read_text()
    )


def test_config_round_trip() -> None:
    config = WordWeights(VOCAB, WEIGHTS, unknown_word_weight=0.3).get_config_dict()
    assert config == {"vocab": VOCAB, "word_weights": WEIGHTS, "unknown_word_weight": 0.3}
    assert WordWeights.from_config(config).get_config_dict() == config
