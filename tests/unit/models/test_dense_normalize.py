"""Dense and Normalize: forward, save/load both ways with sentence-transformers 6.2, activation by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models import Dense, Normalize
from embedforge.models.base import LoadContext
from embedforge.models.dense import activation_from_name

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")


@pytest.mark.parametrize("use_residual", [False, True])
@pytest.mark.parametrize("activation", [torch.nn.Tanh(), torch.nn.Identity(), torch.nn.GELU()], ids=repr)
def test_dense_both_ways(tmp_path: Path, activation: torch.nn.Module, use_residual: bool) -> None:
    torch.manual_seed(0)
    ours = Dense(6, 4, activation_function=activation, use_residual=use_residual)
    x = torch.randn(3, 6)
    ours.save(tmp_path / "ours")
    theirs = st_modules.Dense.load(str(tmp_path / "ours"))
    torch.testing.assert_close(
        ours({"sentence_embedding": x})["sentence_embedding"], theirs({"sentence_embedding": x})["sentence_embedding"]
    )
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"))
    back = Dense.load(tmp_path / "st", LoadContext())
    assert type(back.activation_function) is type(activation)
    torch.testing.assert_close(
        back({"sentence_embedding": x})["sentence_embedding"], theirs({"sentence_embedding": x})["sentence_embedding"]
    )


def test_dense_formula() -> None:
    dense = Dense(3, 2, init_weight=torch.eye(2, 3), init_bias=torch.tensor([0.5, -0.5]))
    out = dense({"sentence_embedding": torch.tensor([[1.0, 2.0, 3.0]])})["sentence_embedding"]
    torch.testing.assert_close(out, torch.tanh(torch.tensor([[1.5, 1.5]])))


def test_activation_is_resolved_without_import() -> None:
    assert isinstance(activation_from_name("torch.nn.modules.activation.ReLU"), torch.nn.ReLU)
    with pytest.raises(ValueError, match=r"torch\.nn module class"):
        activation_from_name("os.system")
    with pytest.raises(ValueError, match=r"torch\.nn module class"):
        activation_from_name("torch.nn.functional.relu")


def test_normalize_unit_norm_and_missing_config(tmp_path: Path) -> None:
    out = Normalize()({"sentence_embedding": torch.tensor([[3.0, 4.0]])})["sentence_embedding"]
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.8]]))
    assert Normalize.load(tmp_path / "absent", LoadContext()).module_input_name == "sentence_embedding"
    Normalize("token_embeddings").save(tmp_path / "n")
    config = json.loads((tmp_path / "n" / "config.json").read_text(encoding="utf-8"))
    assert config == {"module_input_name": "token_embeddings", "module_output_name": "token_embeddings"}
    assert st_modules.Normalize.load(str(tmp_path / "n")).module_input_name == "token_embeddings"
