"""DefaultBatchSampler: torch's BatchSampler over a RandomSampler, reseeded with seed + epoch."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler

from embedforge.data.samplers import BatchSampler, DefaultBatchSampler


def _flat(batches: list[list[int]]) -> list[int]:
    return [index for batch in batches for index in batch]


@pytest.mark.interop
@pytest.mark.parametrize(("num_rows", "batch_size", "drop_last"), [(103, 8, False), (103, 8, True), (64, 16, False)])
@pytest.mark.parametrize("epoch", [0, 3])
def test_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, num_rows: int, batch_size: int, drop_last: bool, epoch: int
) -> None:
    seed = 42
    # What ST's trainer builds; accelerate's seedable sampler seeds its generator with seed + epoch each epoch.
    generator = torch.Generator().manual_seed(seed + epoch)
    theirs = st_sampler.DefaultBatchSampler(
        RandomSampler(range(num_rows), generator=generator), batch_size, drop_last, generator=generator, seed=seed
    )
    ours = DefaultBatchSampler(range(num_rows), batch_size, drop_last, seed=seed)
    ours.set_epoch(epoch)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


def test_shared_generator_without_seed_continues_like_st(st_sampler: ModuleType) -> None:
    """With ``seed=None`` the generator is never reseeded, exactly like ST's sampler over a RandomSampler."""
    theirs_generator = torch.Generator().manual_seed(5)
    theirs = st_sampler.DefaultBatchSampler(RandomSampler(range(50), generator=theirs_generator), 7, False)
    ours = DefaultBatchSampler(range(50), 7, False, generator=torch.Generator().manual_seed(5), seed=None)
    first, second = list(ours), list(ours)
    assert first == list(theirs)
    assert second == list(theirs)
    assert first != second


@pytest.mark.parametrize(("num_rows", "batch_size"), [(100, 10), (101, 10), (7, 10), (1, 1)])
def test_every_index_once_and_batch_sizes(num_rows: int, batch_size: int) -> None:
    sampler = DefaultBatchSampler(list(range(num_rows)), batch_size, drop_last=False, seed=1)
    batches = list(sampler)
    assert sorted(_flat(batches)) == list(range(num_rows))
    assert [len(batch) for batch in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert len(batches[-1]) == (num_rows % batch_size or batch_size)
    assert len(sampler) == len(batches)


def test_drop_last_drops_only_the_incomplete_batch() -> None:
    sampler = DefaultBatchSampler(range(101), 10, drop_last=True, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10
    assert all(len(batch) == 10 for batch in batches)
    assert len(set(_flat(batches))) == 100


def test_epochs_reseed() -> None:
    sampler = DefaultBatchSampler(range(200), 16, drop_last=False, seed=3)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    assert sorted(_flat(epoch1)) == list(range(200))
    sampler.set_epoch(0)
    assert list(sampler) == epoch0
    assert list(DefaultBatchSampler(range(200), 16, drop_last=False, seed=4)) == epoch1


def test_is_a_torch_batch_sampler_usable_by_a_dataloader() -> None:
    data = [torch.tensor(float(i)) for i in range(10)]
    sampler = DefaultBatchSampler(data, 4, drop_last=False)
    assert isinstance(sampler, BatchSampler)
    assert isinstance(sampler, torch.utils.data.BatchSampler)
    loaded = list(DataLoader(data, batch_sampler=sampler))
    assert [batch.tolist() for batch in loaded] == [[float(i) for i in batch] for batch in sampler]


def test_empty_dataset_yields_nothing() -> None:
    sampler = DefaultBatchSampler([], 4, drop_last=False)
    assert list(sampler) == []
    assert len(sampler) == 0


@pytest.mark.parametrize("batch_size", [0, -1, True])
def test_invalid_batch_size(batch_size: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DefaultBatchSampler(range(10), batch_size, drop_last=False)
