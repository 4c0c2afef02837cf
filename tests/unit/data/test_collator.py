"""The collator: label detection, column order, prompts per column and dataset, one tokenization per column."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.data.collator import SentenceTransformerDataCollator, label_column, resolve_column_setting, text_columns


def test_label_and_text_columns() -> None:
    assert label_column(["a", "score", "label"]) == "label"
    assert label_column(["a", "b"]) is None
    assert text_columns(["q", "score", "p", "dataset_name"]) == ["q", "p"]


@pytest.mark.parametrize(
    ("setting", "dataset", "column", "expected"),
    [
        ("q: ", None, "anchor", "q: "),
        ({"anchor": "q: "}, None, "anchor", "q: "),
        ({"anchor": "q: "}, None, "positive", None),
        ({"nq": "q: ", "sts": {"s1": "a: "}}, "nq", "positive", "q: "),
        ({"nq": "q: ", "sts": {"s1": "a: "}}, "sts", "s1", "a: "),
        ({"nq": "q: ", "sts": {"s1": "a: "}}, "sts", "s2", None),
    ],
)
def test_resolve_prompt_forms(setting: object, dataset: str | None, column: str, expected: str | None) -> None:
    assert resolve_column_setting(setting, dataset, column) == expected


def test_collate_with_prompts(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    calls: list[tuple[list[str], str | None]] = []

    def tokenize(texts: list[str], prompt: str | None = None) -> dict:
        calls.append((texts, prompt))
        return model.tokenize(texts, prompt=prompt)

    collator = SentenceTransformerDataCollator(tokenize_fn=tokenize, prompts={"sts": {"anchor": "query: "}})
    rows = [
        {"anchor": "a man", "positive": "a woman", "score": 0.5, "dataset_name": "sts"},
        {"anchor": "the dog", "positive": "a cat", "score": 1.0, "dataset_name": "sts"},
    ]
    batch = collator(rows)
    assert batch["dataset_name"] == "sts"
    torch.testing.assert_close(batch["label"], torch.tensor([0.5, 1.0]))
    assert calls == [(["a man", "the dog"], "query: "), (["a woman", "a cat"], None)]  # once per column
    first = batch["sentence_features"][0]
    assert first["prompt_length"] == model[0].prompt_length("query: ")
    torch.testing.assert_close(first["input_ids"], model.tokenize(["query: a man", "query: the dog"])["input_ids"])


ROWS = [
    {"anchor": "a man is playing a large guitar on the stage", "positive": "a woman", "score": 0.5},
    {"anchor": "the dog runs", "positive": "a cat sleeps on a warm mat in the sun", "score": 1.0},
]


def test_fields_and_defaults_match_sentence_transformers(tiny_bert_path: Path) -> None:
    from dataclasses import fields

    from sentence_transformers.sentence_transformer.data_collator import (
        SentenceTransformerDataCollator as STCollator,
    )

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    ours, theirs = SentenceTransformerDataCollator(model.preprocess), STCollator(model.preprocess)
    st_fields = {field.name for field in fields(STCollator) if field.init}
    assert st_fields <= {field.name for field in fields(SentenceTransformerDataCollator)}
    for name in ("valid_label_columns", "max_length", "router_mapping"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.preprocess_fn == ours.tokenize_fn == model.preprocess


@pytest.mark.parametrize("max_length", [None, 5])
def test_max_length_truncates_as_sentence_transformers(tiny_bert_path: Path, max_length: int | None) -> None:
    from sentence_transformers import SentenceTransformer as STSentenceTransformer
    from sentence_transformers.sentence_transformer.data_collator import (
        SentenceTransformerDataCollator as STCollator,
    )

    ours = SentenceTransformerDataCollator(
        preprocess_fn=SentenceTransformer(str(tiny_bert_path), device="cpu").preprocess, max_length=max_length
    )
    theirs = STCollator(
        preprocess_fn=STSentenceTransformer(str(tiny_bert_path), device="cpu").preprocess, max_length=max_length
    )
    batch, st_batch = ours(ROWS), theirs(ROWS)
    for features, column in zip(batch["sentence_features"], ("anchor", "positive"), strict=True):
        torch.testing.assert_close(features["input_ids"], st_batch[f"{column}_input_ids"])
    if max_length is not None:
        assert batch["sentence_features"][0]["input_ids"].shape[1] == max_length


def test_max_length_per_task_is_passed_only_when_set() -> None:
    calls: list[dict] = []

    def preprocess(texts: list[str], **kwargs: object) -> dict:
        calls.append(kwargs)
        return {}

    collator = SentenceTransformerDataCollator(
        preprocess, router_mapping={"anchor": "query", "positive": "document"}, max_length={"query": 8}
    )
    collator(ROWS)
    assert calls == [
        {"prompt": None, "task": "query", "max_length": 8},
        {"prompt": None, "task": "document"},
    ]


def test_preprocess_fn_or_tokenize_fn_is_required() -> None:
    with pytest.raises(TypeError, match="preprocess_fn=model.preprocess"):
        SentenceTransformerDataCollator()
    with pytest.raises(ValueError, match="pass only one"):
        SentenceTransformerDataCollator(preprocess_fn=len, tokenize_fn=print)
