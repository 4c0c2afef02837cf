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
