"""Transformer: tokenization and forward equal sentence-transformers 6.2's; configs of every ST version load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models import Transformer
from embedforge.models.base import LoadContext

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")


def test_tokenize_and_forward_match_st(tiny_bert_path: Path, sentences: list[str]) -> None:
    ours, theirs = Transformer(str(tiny_bert_path)), st_modules.Transformer(str(tiny_bert_path))
    features = ours.tokenize(sentences)
    expected = theirs.preprocess(sentences)
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        torch.testing.assert_close(features[key], expected[key])
    with torch.no_grad():
        ours_out = ours(dict(features))["token_embeddings"]
        theirs_out = theirs({k: expected[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
    torch.testing.assert_close(ours_out, theirs_out["token_embeddings"])


def test_do_lower_case_on_cased_tokenizer(tiny_bert_path: Path) -> None:
    config = json.loads((tiny_bert_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["do_lower_case"] = False
    (tiny_bert_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    lowered = Transformer(str(tiny_bert_path), do_lower_case=True)
    theirs = st_modules.Transformer(str(tiny_bert_path), do_lower_case=True)
    text = ["A MAN Plays"]
    torch.testing.assert_close(lowered.tokenize(text)["input_ids"], theirs.preprocess(text)["input_ids"])


@pytest.mark.parametrize(
    "config",
    [
        {"max_seq_length": 20, "do_lower_case": False},
        {"transformer_task": "feature-extraction", "module_output_name": "token_embeddings", "max_seq_length": 20},
    ],
)
def test_config_variants_load(tiny_bert_path: Path, config: dict) -> None:
    (tiny_bert_path / "sentence_bert_config.json").write_text(json.dumps(config), encoding="utf-8")
    module = Transformer.load(tiny_bert_path, LoadContext())
    assert module.max_seq_length == 20


def test_legacy_config_file_name(tiny_bert_path: Path) -> None:
    (tiny_bert_path / "sentence_roberta_config.json").write_text(json.dumps({"max_seq_length": 12}), encoding="utf-8")
    assert Transformer.load(tiny_bert_path, LoadContext()).max_seq_length == 12


def test_other_tasks_are_refused_clearly(tiny_bert_path: Path) -> None:
    (tiny_bert_path / "sentence_bert_config.json").write_text(
        json.dumps({"transformer_task": "text-generation"}), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="feature-extraction"):
        Transformer.load(tiny_bert_path, LoadContext())


def test_default_max_length_capped_by_positions(tiny_bert_path: Path) -> None:
    config = json.loads((tiny_bert_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["model_max_length"] = 100000
    (tiny_bert_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    assert Transformer(str(tiny_bert_path)).max_seq_length == 64


def test_unknown_backend_is_refused(tiny_bert_path: Path) -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        Transformer(str(tiny_bert_path), backend="tensorrt")


def test_prompt_length_excludes_trailing_sep(tiny_bert_path: Path) -> None:
    module = Transformer(str(tiny_bert_path))
    assert module.prompt_length("query: ") == len(module.tokenizer("query: ")["input_ids"]) - 1


ARCHITECTURES = {
    "roberta": ("RobertaConfig", {"pad_token_id": 0, "type_vocab_size": 1}),
    "mpnet": ("MPNetConfig", {"pad_token_id": 0}),
    "xlm-roberta": ("XLMRobertaConfig", {"pad_token_id": 0, "type_vocab_size": 1}),
    "distilbert": ("DistilBertConfig", {"pad_token_id": 0}),
    "modernbert": ("ModernBertConfig", {"pad_token_id": 0, "global_attn_every_n_layers": 1}),
}


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_other_architectures_match_st(tiny_bert_path: Path, sentences: list[str], architecture: str) -> None:
    import transformers

    from embedforge import SentenceTransformer

    st = pytest.importorskip("sentence_transformers")
    config_name, extra = ARCHITECTURES[architecture]
    vocab = len((tiny_bert_path / "vocab.txt").read_text(encoding="utf-8").split())
    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    if architecture == "distilbert":
        sizes = {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64}
    config = getattr(transformers, config_name)(vocab_size=vocab, max_position_embeddings=66, **sizes, **extra)
    torch.manual_seed(0)
    transformers.AutoModel.from_config(config).save_pretrained(str(tiny_bert_path))
    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs = st.SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert ours[0].auto_model.config.model_type == architecture
    torch.testing.assert_close(
        torch.as_tensor(ours.encode(sentences)), torch.as_tensor(theirs.encode(sentences)), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("task", ["feature-extraction", "sequence-classification"])
def test_transformer_task_argument_as_st(tiny_bert_path: Path, task: str) -> None:
    from sentence_transformers.base.modules import Transformer as STTransformer

    ours = Transformer(str(tiny_bert_path), transformer_task=task)
    theirs = STTransformer(str(tiny_bert_path), transformer_task=task)
    keys = ("transformer_task", "modality_config", "module_output_name")
    assert {key: ours.get_config_dict()[key] for key in keys} == theirs.get_config_dict()
    features = ours.tokenize(["a man plays"])
    output_name = theirs.get_config_dict()["module_output_name"]
    assert output_name in ours(features)


def test_unsupported_transformer_task_names_the_supported_ones(tiny_bert_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\['feature-extraction', 'sequence-classification'\].*'fill-mask'"):
        Transformer(str(tiny_bert_path), transformer_task="fill-mask")
