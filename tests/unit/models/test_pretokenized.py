"""Tokenize-once-then-pad gives exactly the tensors of batch tokenization with padding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embedforge.models import Transformer


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_collate_equals_padded_tokenization(tiny_bert_path: Path, sentences: list[str], padding_side: str) -> None:
    module = Transformer(str(tiny_bert_path), max_seq_length=12)
    module.tokenizer.padding_side = padding_side
    pretokenized = module.pretokenize(sentences)
    indices = [4, 0, 6, 2]
    batch = pretokenized.collate(indices)
    expected = module.tokenize([sentences[i] for i in indices])
    assert set(batch) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(batch[key], value)
    assert pretokenized.lengths == [int(row.sum()) for row in module.tokenize(sentences)["attention_mask"]]


def test_pairs_and_prompt(tiny_bert_path: Path) -> None:
    module = Transformer(str(tiny_bert_path))
    pairs = [("a man", "a dog runs"), ("the cat", "a woman eats food")]
    torch.testing.assert_close(
        module.pretokenize(pairs).collate([0, 1])["token_type_ids"], module.tokenize(pairs)["token_type_ids"]
    )
    with_prompt = module.pretokenize(["a man"], prompt="query: ").collate([0])
    assert with_prompt["prompt_length"] == module.prompt_length("query: ")
    torch.testing.assert_close(with_prompt["input_ids"], module.preprocess(["a man"], prompt="query: ")["input_ids"])
