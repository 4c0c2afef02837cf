"""``embedforge info``: modules, dimension, prompts, similarity and model card basics, readable or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedforge.cli import main


def info_json(model: Path | str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["info", str(model), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1  # one object
    return json.loads(lines[0])


def test_plain_checkpoint_readable(tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tiny_bert_path)]) == 0
    out = capsys.readouterr().out
    assert "(0) Transformer: max_seq_length=64" in out
    assert "model_type=bert" in out
    assert "(1) Pooling: embedding_dimension=32, pooling_mode=mean" in out
    assert "Embedding dimension: 32" in out
    assert "Similarity function: cosine" in out
    assert "Prompts: none" in out
    assert "Model card: none" in out


def test_saved_model_with_prompts_json(
    tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from embedforge import SentenceTransformer
    from embedforge.models import Normalize

    model = SentenceTransformer(
        str(tiny_bert_path),
        device="cpu",
        prompts={"query": "query: ", "document": ""},
        default_prompt_name="query",
        similarity_fn_name="dot",
    )
    model.append(Normalize())
    model.save(str(tmp_path / "saved"))
    report = info_json(tmp_path / "saved", capsys)
    assert report["event"] == "model_info"
    assert [module["type"] for module in report["modules"]] == ["Transformer", "Pooling", "Normalize"]
    assert report["modules"][0]["config"]["hidden_size"] == 32
    assert report["embedding_dimension"] == 32
    assert report["max_seq_length"] == 64
    assert report["prompts"] == {"query": "query: ", "document": ""}
    assert report["default_prompt_name"] == "query"
    assert report["similarity_fn_name"] == "dot"
    assert report["truncate_dim"] is None
    assert report["parameters"] == sum(parameter.numel() for parameter in model.parameters())
    assert report["model_card"]["library_name"] == "sentence-transformers"


def test_model_card_basics_of_minilm(minilm_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = info_json(minilm_path, capsys)
    assert report["embedding_dimension"] == 384
    assert report["max_seq_length"] == 256
    assert report["modules"][-1]["type"] == "Normalize"
    assert report["model_card"]["license"] == "apache-2.0"
    assert report["model_card"]["language"] == "en"
    assert report["model_card"]["datasets"].startswith("<list of ")  # long lists are summarized


def test_card_basics_without_front_matter() -> None:
    from embedforge.cli.info import card_basics

    assert card_basics(None) == {}
    assert card_basics("# A model\nno front matter") == {}
    assert card_basics("---\nlicense: mit\ntags: [a]\n---\n# Title") == {"license": "mit", "tags": ["a"]}
    assert card_basics("---\n: bad: yaml: [\n---\n") == {}


def test_missing_model_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path / "nowhere"), "--device", "cpu"]) == 1
    assert "error:" in capsys.readouterr().err
    assert main(["info"]) == 2
