"""ProportionalBatchSampler: every batch of every dataset once per epoch, in a random interleaving."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

import datasets
import pytest
import torch
from torch.utils.data import ConcatDataset, RandomSampler

from embedforge.data.samplers import (
    DefaultBatchSampler,
    GroupByLabelBatchSampler,
    MultiDatasetDefaultBatchSampler,
    NoDuplicatesBatchSampler,
    ProportionalBatchSampler,
)


def _dataset_of(index: int, concat: ConcatDataset) -> int:
    return next(position for position, end in enumerate(concat.cumulative_sizes) if index < end)


@pytest.mark.interop
@pytest.mark.parametrize("epoch", [0, 2])
@pytest.mark.parametrize("drop_last", [False, True])
def test_default_children_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, three_datasets: list[datasets.Dataset], epoch: int, drop_last: bool
) -> None:
    concat = ConcatDataset(three_datasets)
    # ST's trainer: one generator shared by everything; its default children never reseed (seed=None here).
    theirs_generator = torch.Generator()
    theirs_children = [
        st_sampler.DefaultBatchSampler(RandomSampler(d, generator=theirs_generator), 8, drop_last)
        for d in three_datasets
    ]
    theirs = st_sampler.ProportionalBatchSampler(concat, theirs_children, generator=theirs_generator, seed=7)
    generator = torch.Generator()
    children = [DefaultBatchSampler(d, 8, drop_last, generator=generator, seed=None) for d in three_datasets]
    ours = ProportionalBatchSampler(concat, children, generator=generator, seed=7)
    theirs.set_epoch(epoch)
    ours.set_epoch(epoch)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@pytest.mark.interop
def test_mixed_children_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, three_datasets: list[datasets.Dataset]
) -> None:
    labelled = datasets.Dataset.from_dict({"text": [f"t{i}" for i in range(60)], "label": [i % 3 for i in range(60)]})
    parts = [three_datasets[0], labelled, three_datasets[2]]
    concat = ConcatDataset(parts)
    theirs_generator = torch.Generator()
    theirs = st_sampler.ProportionalBatchSampler(
        concat,
        [
            st_sampler.NoDuplicatesBatchSampler(parts[0], 8, False, generator=theirs_generator, seed=5),
            st_sampler.GroupByLabelBatchSampler(parts[1], 8, False, ["label"], generator=theirs_generator, seed=5),
            st_sampler.NoDuplicatesBatchSampler(parts[2], 8, False, generator=theirs_generator, seed=5),
        ],
        generator=theirs_generator,
        seed=5,
    )
    generator = torch.Generator()
    ours = ProportionalBatchSampler(
        concat,
        [
            NoDuplicatesBatchSampler(parts[0], 8, False, generator=generator, seed=5),
            GroupByLabelBatchSampler(parts[1], 8, False, ["label"], generator=generator, seed=5),
            NoDuplicatesBatchSampler(parts[2], 8, False, generator=generator, seed=5),
        ],
        generator=generator,
        seed=5,
    )
    assert list(ours) == list(theirs)


def test_every_sample_of_every_dataset_once(three_datasets: list[datasets.Dataset]) -> None:
    concat = ConcatDataset(three_datasets)
    children = [DefaultBatchSampler(d, 8, drop_last=False, seed=i) for i, d in enumerate(three_datasets)]
    sampler = ProportionalBatchSampler(concat, children, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == sum(len(child) for child in children) == 13 + 32 + 5
    assert sorted(index for batch in batches for index in batch) == list(range(len(concat)))
    sources = []
    for batch in batches:
        owners = {_dataset_of(index, concat) for index in batch}
        assert len(owners) == 1, "a batch mixes datasets"
        sources.append(owners.pop())
    # Each dataset is drawn as often as it has batches, and the datasets are interleaved.
    assert Counter(sources) == {0: 13, 1: 32, 2: 5}
    assert sources != sorted(sources)


def test_epochs_differ_and_repeat(three_datasets: list[datasets.Dataset]) -> None:
    concat = ConcatDataset(three_datasets)
    children = [DefaultBatchSampler(d, 8, drop_last=False) for d in three_datasets]
    sampler = ProportionalBatchSampler(concat, children)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    assert [child.epoch for child in children] == [1, 1, 1]
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    assert sorted(index for batch in epoch1 for index in batch) == list(range(len(concat)))


def test_base_class_is_abstract(three_datasets: list[datasets.Dataset]) -> None:
    concat = ConcatDataset(three_datasets)
    children = [DefaultBatchSampler(d, 8, drop_last=False) for d in three_datasets]
    with pytest.raises(TypeError, match="abstract"):
        MultiDatasetDefaultBatchSampler(concat, children)  # type: ignore[abstract]
    sampler = ProportionalBatchSampler(concat, children)
    assert (sampler.batch_size, sampler.drop_last) == (8, False)
    assert sampler.offsets == [0, 103, 353]
