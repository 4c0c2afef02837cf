"""RoundRobinBatchSampler: one batch per dataset in turn until the smallest is exhausted, as sentence-transformers."""

from __future__ import annotations

from types import ModuleType

import datasets
import pytest
import torch
from torch.utils.data import ConcatDataset, RandomSampler

from embedforge.data.samplers import DefaultBatchSampler, NoDuplicatesBatchSampler, RoundRobinBatchSampler


def _dataset_of(index: int, concat: ConcatDataset) -> int:
    return next(position for position, end in enumerate(concat.cumulative_sizes) if index < end)


@pytest.mark.interop
@pytest.mark.parametrize("epoch", [0, 2])
def test_default_children_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, three_datasets: list[datasets.Dataset], epoch: int
) -> None:
    concat = ConcatDataset(three_datasets)
    # ST's trainer: one generator shared by everything; its default children never reseed (seed=None here).
    theirs_generator = torch.Generator()
    theirs_children = [
        st_sampler.DefaultBatchSampler(RandomSampler(d, generator=theirs_generator), 8, False) for d in three_datasets
    ]
    theirs = st_sampler.RoundRobinBatchSampler(concat, theirs_children, generator=theirs_generator, seed=7)
    generator = torch.Generator()
    children = [DefaultBatchSampler(d, 8, False, generator=generator, seed=None) for d in three_datasets]
    ours = RoundRobinBatchSampler(concat, children, generator=generator, seed=7)
    theirs.set_epoch(epoch)
    ours.set_epoch(epoch)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@pytest.mark.interop
def test_no_duplicates_children_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, three_datasets: list[datasets.Dataset]
) -> None:
    concat = ConcatDataset(three_datasets)
    theirs_generator = torch.Generator()
    theirs_children = [
        st_sampler.NoDuplicatesBatchSampler(d, 8, True, generator=theirs_generator, seed=3) for d in three_datasets
    ]
    theirs = st_sampler.RoundRobinBatchSampler(concat, theirs_children, generator=theirs_generator, seed=3)
    generator = torch.Generator()
    children = [NoDuplicatesBatchSampler(d, 8, True, generator=generator, seed=3) for d in three_datasets]
    ours = RoundRobinBatchSampler(concat, children, generator=generator, seed=3)
    ours.set_epoch(1)
    theirs.set_epoch(1)
    assert list(ours) == list(theirs)


def test_alternates_until_the_smallest_is_exhausted(three_datasets: list[datasets.Dataset]) -> None:
    concat = ConcatDataset(three_datasets)
    children = [DefaultBatchSampler(d, 8, drop_last=False, seed=i) for i, d in enumerate(three_datasets)]
    sampler = RoundRobinBatchSampler(concat, children)
    batches = list(sampler)
    smallest = min(len(child) for child in children)  # 37 rows -> 5 batches
    assert len(batches) == len(sampler) == 3 * smallest == 15
    sources = []
    for batch in batches:
        owners = {_dataset_of(index, concat) for index in batch}
        assert len(owners) == 1, "a batch mixes datasets"
        sources.append(owners.pop())
    assert sources == [0, 1, 2] * smallest
    # The smallest dataset is used entirely, the others partly; no index twice.
    used = [index for batch in batches for index in batch]
    assert len(used) == len(set(used))
    assert {index - concat.cumulative_sizes[1] for index in used if index >= concat.cumulative_sizes[1]} == set(
        range(37)
    )


def test_set_epoch_reaches_children(three_datasets: list[datasets.Dataset]) -> None:
    concat = ConcatDataset(three_datasets)
    children = [DefaultBatchSampler(d, 8, drop_last=False) for d in three_datasets]
    sampler = RoundRobinBatchSampler(concat, children)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(4)
    assert [child.epoch for child in children] == [4, 4, 4]
    assert list(sampler) != epoch0


def test_one_sampler_per_dataset(three_datasets: list[datasets.Dataset]) -> None:
    concat = ConcatDataset(three_datasets)
    with pytest.raises(ValueError, match="one batch sampler per dataset"):
        RoundRobinBatchSampler(concat, [DefaultBatchSampler(three_datasets[0], 8, False)])
