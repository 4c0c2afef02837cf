"""SentencesDataset: the deprecated list wrapper, as sentence-transformers' one."""

from __future__ import annotations

import torch

from embedforge.datasets import SentencesDataset
from embedforge.readers import InputExample


def test_wraps_the_examples(st_datasets) -> None:
    examples = [InputExample(texts=[f"t{i}"], label=i) for i in range(5)]
    ours, theirs = SentencesDataset(examples, model=None), st_datasets.SentencesDataset(examples, model=None)
    assert len(ours) == len(theirs) == 5
    assert [ours[i] for i in range(5)] == [theirs[i] for i in range(5)] == examples
    assert isinstance(ours, torch.utils.data.Dataset)
