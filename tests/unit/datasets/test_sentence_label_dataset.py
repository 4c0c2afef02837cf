"""SentenceLabelDataset: same stream as sentence-transformers' for a seed, labels in runs of samples_per_label."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from embedforge.datasets import SentenceLabelDataset
from embedforge.readers import InputExample


@pytest.mark.parametrize(("samples_per_label", "with_replacement"), [(2, False), (3, False), (2, True), (4, True)])
def test_stream_matches_st(trec_examples, st_datasets, samples_per_label: int, with_replacement: bool) -> None:
    np.random.seed(5)
    ours = SentenceLabelDataset(trec_examples, samples_per_label, with_replacement)
    ours_streams = [list(ours), list(ours)]
    np.random.seed(5)
    theirs = st_datasets.SentenceLabelDataset(trec_examples, samples_per_label, with_replacement)
    assert len(ours) == len(theirs)
    for ours_stream, theirs_stream in zip(ours_streams, [list(theirs), list(theirs)], strict=True):
        assert [example.guid for example in ours_stream] == [example.guid for example in theirs_stream]


@pytest.mark.parametrize("samples_per_label", [2, 3])
def test_labels_come_in_groups(trec_examples: list[InputExample], samples_per_label: int) -> None:
    np.random.seed(0)
    dataset = SentenceLabelDataset(trec_examples, samples_per_label=samples_per_label)
    counts = Counter(example.label for example in trec_examples)
    kept = {label for label, count in counts.items() if count >= samples_per_label}
    assert len(dataset) == sum(counts[label] for label in kept)
    stream = list(dataset)
    assert len(stream) == len(dataset)
    for start in range(0, len(stream), samples_per_label):
        group = stream[start : start + samples_per_label]
        assert len({example.label for example in group}) == 1
        assert group[0].label in kept
        assert len({example.guid for example in group}) == samples_per_label  # distinct examples


@pytest.mark.parametrize("with_replacement", [False, True])
def test_each_round_visits_every_label_once(with_replacement: bool) -> None:
    examples = [
        InputExample(guid=f"{label}-{i}", texts=[f"t{label}{i}"], label=label) for label in range(3) for i in range(4)
    ]
    np.random.seed(1)
    stream = [example.label for example in SentenceLabelDataset(examples, 2, with_replacement)]
    assert len(stream) == 12
    for start in range(0, 12, 6):  # a round: 3 labels x 2 examples
        assert sorted(stream[start : start + 6]) == [0, 0, 1, 1, 2, 2]


def test_rare_labels_are_dropped_and_dataloader_batches_labels() -> None:
    examples = [InputExample(texts=[f"a{i}"], label=0) for i in range(6)] + [InputExample(texts=["b"], label=1)]
    np.random.seed(0)
    dataset = SentenceLabelDataset(examples, samples_per_label=2)
    assert len(dataset) == 6
    assert isinstance(dataset, torch.utils.data.IterableDataset)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=list)
    assert [[example.label for example in batch] for batch in loader] == [[0, 0]] * 3


def test_samples_per_label_must_be_positive() -> None:
    with pytest.raises(ValueError, match="samples_per_label >= 1, got 0"):
        SentenceLabelDataset([InputExample(texts=["a"], label=0)], samples_per_label=0)
