"""ContrastiveTensionDataLoader: the same batches as sentence-transformers 6.2's under the same seed."""

from __future__ import annotations

import random

import pytest

from embedforge import InputExample
from embedforge.losses.contrastive_tension_data_loader import ContrastiveTensionDataLoader

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

SENTENCES = [f"sentence number {i}" for i in range(50)]


def _batches(loader: object, epochs: int) -> list[list[tuple[str, str, int]]]:
    return [[(*example.texts, example.label) for example in batch] for _ in range(epochs) for batch in loader]


@pytest.mark.parametrize(("batch_size", "pos_neg_ratio"), [(8, 8), (6, 2), (4, 1)])
def test_same_batches_as_sentence_transformers(batch_size: int, pos_neg_ratio: int) -> None:
    random.seed(3)
    ours = _batches(ContrastiveTensionDataLoader(SENTENCES, batch_size, pos_neg_ratio), epochs=2)
    random.seed(3)
    theirs = _batches(st_losses.ContrastiveTensionDataLoader(list(SENTENCES), batch_size, pos_neg_ratio), epochs=2)
    assert ours == theirs
    assert len(ours) == 2 * (50 // (2 * batch_size - batch_size // pos_neg_ratio))


def test_batch_layout_and_collate() -> None:
    sentences = list(SENTENCES)
    loader = ContrastiveTensionDataLoader(sentences, batch_size=8, pos_neg_ratio=4)
    assert sentences == SENTENCES  # the caller's list is not shuffled
    assert len(loader) == 50 // 14
    batch = next(iter(loader))
    assert all(isinstance(example, InputExample) for example in batch)
    assert [example.label for example in batch] == [1, 0, 0, 0, 1, 0, 0, 0]
    for example in batch:
        assert (example.texts[0] == example.texts[1]) == (example.label == 1)
    texts = [text for example in batch for text in dict.fromkeys(example.texts)]
    assert len(texts) == len(set(texts)) == 14  # every sentence used once
    loader.collate_fn = len
    assert list(loader) == [8, 8, 8]


def test_batch_size_must_be_divisible_by_ratio() -> None:
    with pytest.raises(ValueError, match="divisible by pos_neg_ratio"):
        ContrastiveTensionDataLoader(SENTENCES, batch_size=10, pos_neg_ratio=4)
