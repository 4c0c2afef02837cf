"""Pooling equals sentence-transformers 6.2's Pooling for every mode, with right/left padding and prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models import Pooling
from embedforge.models.base import LoadContext

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken", ("mean", "max", "cls")]


def _features(left_padding: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]])
    if left_padding:
        mask = mask.flip(1)
    return {"token_embeddings": torch.randn(3, 6, 5), "attention_mask": mask}


@pytest.mark.parametrize("left_padding", [False, True])
@pytest.mark.parametrize("include_prompt", [True, False])
@pytest.mark.parametrize("mode", MODES, ids=str)
def test_matches_st(mode: str | tuple[str, ...], include_prompt: bool, left_padding: bool) -> None:
    ours = Pooling(5, pooling_mode=mode, include_prompt=include_prompt)
    theirs = st_modules.Pooling(5, pooling_mode=mode, include_prompt=include_prompt)
    features = {**_features(left_padding), "prompt_length": 2}
    expected = theirs(dict(features))["sentence_embedding"]
    result = ours(dict(features))["sentence_embedding"]
    assert result.shape == (3, ours.get_sentence_embedding_dimension())
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=0)


def test_mean_is_the_masked_average() -> None:
    features = _features(left_padding=False)
    result = Pooling(5)(dict(features))["sentence_embedding"]
    second = features["token_embeddings"][1, :3].mean(dim=0)
    torch.testing.assert_close(result[1], second)


def test_prompt_excluded_from_mean() -> None:
    features = {**_features(left_padding=False), "prompt_length": 2}
    result = Pooling(5, include_prompt=False)(dict(features))["sentence_embedding"]
    torch.testing.assert_close(result[0], features["token_embeddings"][0, 2:].mean(dim=0))


def test_invalid_mode_is_clear() -> None:
    with pytest.raises(ValueError, match=r"pooling_mode in .*got 'sum'"):
        Pooling(5, pooling_mode="sum")


def test_legacy_config_loads(tmp_path: Path) -> None:
    legacy = {
        "word_embedding_dimension": 384,
        "pooling_mode_cls_token": True,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (tmp_path / "config.json").write_text(json.dumps(legacy), encoding="utf-8")
    pooling = Pooling.load(tmp_path, LoadContext())
    assert pooling.pooling_mode == ("cls", "mean")
    assert pooling.get_sentence_embedding_dimension() == 768


def test_config_round_trip(tmp_path: Path) -> None:
    Pooling(8, pooling_mode=("max", "mean"), include_prompt=False).save(tmp_path)
    back = Pooling.load(tmp_path, LoadContext())
    expected = {"embedding_dimension": 8, "pooling_mode": ["max", "mean"], "include_prompt": False}
    assert back.get_config_dict() == expected
    assert not (tmp_path / "model.safetensors").exists()


def test_pooling_modes_class_attribute_matches_st() -> None:
    assert Pooling.POOLING_MODES == st_modules.Pooling.POOLING_MODES
    assert Pooling(4).POOLING_MODES == st_modules.Pooling.POOLING_MODES
