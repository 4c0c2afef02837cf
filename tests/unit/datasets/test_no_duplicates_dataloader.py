"""NoDuplicatesDataLoader: same batches as sentence-transformers' for a seed, never a repeated text in a batch."""

from __future__ import annotations

import random

import pytest

from embedforge.datasets import NoDuplicatesDataLoader
from embedforge.readers import InputExample


@pytest.fixture
def pair_examples(nli_triplet_rows: list[dict[str, str]]) -> list[InputExample]:
    """(anchor, positive) pairs; anchors repeat, and some texts differ only in case or outer spaces."""
    examples = [InputExample(texts=[row["anchor"], row["positive"]]) for row in nli_triplet_rows]
    examples += [InputExample(texts=[f"  {row['anchor'].upper()} ", "x"]) for row in nli_triplet_rows[:20]]
    return examples


def batch_texts(loader: object) -> list[list[list[str]]]:
    return [[example.texts for example in batch] for batch in loader]


def test_batches_match_st(pair_examples: list[InputExample], st_datasets) -> None:
    random.seed(11)
    ours = NoDuplicatesDataLoader(pair_examples, batch_size=16)
    ours_epochs = [batch_texts(ours), batch_texts(ours)]
    random.seed(11)
    theirs = st_datasets.NoDuplicatesDataLoader(list(pair_examples), batch_size=16)
    assert len(ours) == len(theirs) == len(pair_examples) // 16
    assert ours_epochs == [batch_texts(theirs), batch_texts(theirs)]


def test_no_duplicate_text_in_any_batch(pair_examples: list[InputExample]) -> None:
    random.seed(0)
    loader = NoDuplicatesDataLoader(pair_examples, batch_size=32)
    for _ in range(3):
        batches = list(loader)
        assert len(batches) == len(pair_examples) // 32
        for batch in batches:
            assert len(batch) == 32
            keys = [text.strip().lower() for example in batch for text in example.texts]
            assert len(keys) == len(set(keys))


def test_collate_fn_set_later_and_input_not_mutated(pair_examples: list[InputExample]) -> None:
    original = list(pair_examples)
    loader = NoDuplicatesDataLoader(pair_examples, batch_size=8)
    assert pair_examples == original  # ST shuffles the caller's list in place; we shuffle a copy
    assert all(isinstance(batch, list) for batch in loader)
    loader.collate_fn = lambda batch: [example.texts[0] for example in batch]
    first = next(iter(loader))
    assert len(first) == 8
    assert all(isinstance(text, str) for text in first)


def test_non_string_texts_are_compared_as_strings() -> None:
    examples = [InputExample(texts=[1, "a"]), InputExample(texts=["1", "b"]), InputExample(texts=[2, "c"])]
    random.seed(0)
    for batch in NoDuplicatesDataLoader(examples, batch_size=2):
        assert {str(example.texts[0]) for example in batch} == {"1", "2"}


def test_impossible_batch_raises_instead_of_hanging() -> None:
    examples = [InputExample(texts=["same question", f"answer {i}"]) for i in range(10)]
    with pytest.raises(ValueError, match="cannot fill a batch of 4"):
        list(NoDuplicatesDataLoader(examples, batch_size=4))
