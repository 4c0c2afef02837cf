"""GroupByLabelBatchSampler: batches of same-label pairs from several labels, as sentence-transformers."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

import datasets
import pytest
import torch

from embedforge.data.samplers import GroupByLabelBatchSampler


def _labelled(labels: list[int]) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"text": [f"text {i}" for i in range(len(labels))], "label": labels})


# Balanced; imbalanced with a dominant label and a singleton label (never used); two labels only.
LABELINGS = {
    "balanced": [i % 5 for i in range(100)],
    "imbalanced": [0] * 61 + [1] * 17 + [2] * 9 + [3] * 30 + [4] * 3 + [5],
    "two_labels": [0] * 13 + [1] * 21,
}


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(LABELINGS))
@pytest.mark.parametrize(("batch_size", "drop_last"), [(8, False), (8, True), (6, False), (32, False)])
def test_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, name: str, batch_size: int, drop_last: bool
) -> None:
    dataset = _labelled(LABELINGS[name])
    kwargs = {"batch_size": batch_size, "drop_last": drop_last, "valid_label_columns": ["score", "label"]}
    theirs = st_sampler.GroupByLabelBatchSampler(dataset, generator=torch.Generator(), seed=9, **kwargs)
    ours = GroupByLabelBatchSampler(dataset, seed=9, **kwargs)
    for epoch in (0, 1):
        theirs.set_epoch(epoch)
        ours.set_epoch(epoch)
        batches = list(ours)
        assert batches == list(theirs)
        assert len(ours) == len(theirs) == len(batches)


@pytest.mark.parametrize("name", sorted(LABELINGS))
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_composition(name: str, drop_last: bool) -> None:
    labels = LABELINGS[name]
    batch_size = 8
    sampler = GroupByLabelBatchSampler(_labelled(labels), batch_size, drop_last, valid_label_columns=["label"], seed=1)
    batches = list(sampler)
    assert batches
    used = [index for batch in batches for index in batch]
    assert len(used) == len(set(used)), "a sample is used twice in one epoch"
    assert all(Counter(labels)[labels[index]] >= 2 for index in used), "singleton labels are never used"
    for batch in batches[:-1]:
        assert len(batch) == batch_size
    assert len(batches[-1]) == batch_size or (not drop_last and 4 <= len(batches[-1]) < batch_size)
    for batch in batches:
        pairs = [batch[i : i + 2] for i in range(0, len(batch), 2)]
        assert all(labels[a] == labels[b] for a, b in pairs), "samples come in same-label pairs"
        counts = Counter(labels[index] for index in batch)
        assert len(counts) >= 2
        assert min(counts.values()) >= 2


def test_balanced_labels_use_every_sample() -> None:
    labels = [i % 4 for i in range(64)]
    batches = list(GroupByLabelBatchSampler(_labelled(labels), 8, drop_last=False, valid_label_columns=["label"]))
    assert sorted(index for batch in batches for index in batch) == list(range(64))


def test_epochs_differ_and_repeat() -> None:
    sampler = GroupByLabelBatchSampler(_labelled(LABELINGS["balanced"]), 8, False, valid_label_columns=["label"])
    epoch0 = list(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    assert list(sampler) != epoch0


@pytest.mark.parametrize("batch_size", [2, 7])
def test_batch_size_must_be_even_and_at_least_4(batch_size: int) -> None:
    with pytest.raises(ValueError, match="even batch_size >= 4"):
        GroupByLabelBatchSampler(_labelled([0, 1] * 10), batch_size, False, valid_label_columns=["label"])


def test_missing_label_column() -> None:
    with pytest.raises(ValueError, match=r"none of the label columns \['score'\]"):
        GroupByLabelBatchSampler(_labelled([0, 1] * 10), 4, False, valid_label_columns=["score"])
    with pytest.raises(ValueError, match="none of the label columns None"):
        GroupByLabelBatchSampler(_labelled([0, 1] * 10), 4, False)


def test_needs_two_labels_with_two_samples() -> None:
    with pytest.raises(ValueError, match="only 1 label"):
        GroupByLabelBatchSampler(_labelled([0] * 10 + [1]), 4, False, valid_label_columns=["label"])
