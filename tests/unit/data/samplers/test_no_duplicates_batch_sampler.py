"""NoDuplicatesBatchSampler: no value twice in a batch, same batches as sentence-transformers."""

from __future__ import annotations

import logging
from types import ModuleType

import datasets
import numpy as np
import pytest
import torch

from embedforge.data.samplers import DefaultBatchSampler, NoDuplicatesBatchSampler
from embedforge.data.samplers import no_duplicates as no_duplicates_module


def _flat(batches: list[list[int]]) -> list[int]:
    return [index for batch in batches for index in batch]


def _assert_no_value_twice(dataset: datasets.Dataset, batches: list[list[int]], columns: list[str]) -> None:
    """No two rows of a batch share a value (a row may repeat a value in its own columns)."""
    table = [list(dataset[column]) for column in columns]
    for batch in batches:
        values = [value for index in batch for value in {cells[index] for cells in table}]
        assert len(values) == len(set(values)), f"duplicate value in batch {batch}"


def _st_batches(st_sampler: ModuleType, dataset: datasets.Dataset, epoch: int = 0, **kwargs: object) -> list:
    sampler = st_sampler.NoDuplicatesBatchSampler(dataset, generator=torch.Generator(), **kwargs)
    sampler.set_epoch(epoch)
    return list(sampler)


def _our_batches(dataset: datasets.Dataset, epoch: int = 0, **kwargs: object) -> list:
    sampler = NoDuplicatesBatchSampler(dataset, **kwargs)
    sampler.set_epoch(epoch)
    return list(sampler)


@pytest.mark.interop
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("precompute_hashes", [False, True])
def test_stsb_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, stsb_train: datasets.Dataset, drop_last: bool, precompute_hashes: bool
) -> None:
    kwargs = {
        "batch_size": 64,
        "drop_last": drop_last,
        "valid_label_columns": ["score"],
        "seed": 12,
        "precompute_hashes": precompute_hashes,
        "precompute_num_proc": 1,
    }
    ours = _our_batches(stsb_train, epoch=1, **kwargs)
    assert ours == _st_batches(st_sampler, stsb_train, epoch=1, **kwargs)
    _assert_no_value_twice(stsb_train, ours, ["sentence1", "sentence2"])
    if not drop_last:
        assert sorted(_flat(ours)) == list(range(len(stsb_train)))


@pytest.mark.interop
@pytest.mark.parametrize("drop_last", [False, True])
def test_repetitive_data_same_batches_as_sentence_transformers(
    st_sampler: ModuleType, repetitive_pairs: datasets.Dataset, drop_last: bool
) -> None:
    # 30 distinct texts, two per row: batches of 12 rows are hard to fill, so with drop_last the
    # resampling passes run; the batches must still match ST's.
    kwargs = {"batch_size": 12, "drop_last": drop_last, "valid_label_columns": ["label"], "seed": 0}
    ours = _our_batches(repetitive_pairs, **kwargs)
    assert ours == _st_batches(st_sampler, repetitive_pairs, **kwargs)
    _assert_no_value_twice(repetitive_pairs, ours, ["anchor", "positive"])
    if drop_last:
        assert all(len(batch) == 12 for batch in ours)
    else:
        assert sorted(_flat(ours)) == list(range(len(repetitive_pairs)))


@pytest.mark.parametrize("precompute_hashes", [False, True])
def test_hashed_and_plain_give_the_same_batches(repetitive_pairs: datasets.Dataset, precompute_hashes: bool) -> None:
    kwargs = {"batch_size": 8, "drop_last": False, "valid_label_columns": ["label"], "seed": 4}
    reference = _our_batches(repetitive_pairs, **kwargs)
    assert _our_batches(repetitive_pairs, precompute_hashes=precompute_hashes, precompute_num_proc=1, **kwargs) == (
        reference
    )


def test_hashing_falls_back_to_blake2b(repetitive_pairs: datasets.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = {"batch_size": 8, "drop_last": False, "seed": 2}
    reference = _our_batches(repetitive_pairs, **kwargs)
    monkeypatch.setattr(no_duplicates_module, "_int64_hasher", lambda: no_duplicates_module._blake2b_int64)
    sampler = NoDuplicatesBatchSampler(repetitive_pairs, precompute_hashes=True, precompute_num_proc=1, **kwargs)
    assert list(sampler) == reference
    assert sampler._row_hashes is not None
    assert sampler._row_hashes.shape == (len(repetitive_pairs), 3)  # label kept: not in valid_label_columns


def test_label_and_dataset_name_columns_are_ignored() -> None:
    # Unique texts, one label value and one dataset name everywhere: nothing clashes, so the batches are
    # the default sampler's (same first permutation of the generator).
    dataset = datasets.Dataset.from_dict(
        {"text": [f"text {i}" for i in range(50)], "label": [1] * 50, "dataset_name": ["all"] * 50}
    )
    ours = list(NoDuplicatesBatchSampler(dataset, 8, drop_last=False, valid_label_columns=["label"], seed=3))
    assert ours == list(DefaultBatchSampler(dataset, 8, drop_last=False, seed=3))
    hashed = NoDuplicatesBatchSampler(dataset, 8, False, valid_label_columns=["label"], seed=3, precompute_hashes=True)
    assert list(hashed) == ours
    assert hashed.dataset.column_names == ["text", "dataset_name"]


def test_same_text_across_columns_is_a_duplicate() -> None:
    # Row i's positive is row i+1's anchor: consecutive rows never share a batch.
    texts = [f"t{i}" for i in range(41)]
    dataset = datasets.Dataset.from_dict({"anchor": texts[:-1], "positive": texts[1:]})
    batches = list(NoDuplicatesBatchSampler(dataset, 5, drop_last=False, seed=0))
    _assert_no_value_twice(dataset, batches, ["anchor", "positive"])
    assert all(abs(a - b) != 1 for batch in batches for a in batch for b in batch)
    assert sorted(_flat(batches)) == list(range(40))


def test_epochs_differ_and_repeat(repetitive_pairs: datasets.Dataset) -> None:
    sampler = NoDuplicatesBatchSampler(repetitive_pairs, 8, drop_last=False, seed=0)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    assert list(sampler) != epoch0


def test_too_few_distinct_values_warns(caplog: pytest.LogCaptureFixture) -> None:
    dataset = datasets.Dataset.from_dict({"text": ["a", "b", "c"] * 10})
    sampler = NoDuplicatesBatchSampler(dataset, 4, drop_last=True, seed=0)
    assert len(sampler) == 7
    with caplog.at_level(logging.WARNING, logger=no_duplicates_module.__name__):
        assert list(sampler) == []
    assert "too few distinct values" in caplog.text
    batches = list(NoDuplicatesBatchSampler(dataset, 4, drop_last=False, seed=0))
    assert [len(batch) for batch in batches] == [3] * 10


def test_empty_dataset() -> None:
    dataset = datasets.Dataset.from_dict({"text": []})
    assert list(NoDuplicatesBatchSampler(dataset, 4, drop_last=False)) == []


@pytest.mark.interop
def test_value_keys_match_sentence_transformers(st_sampler: ModuleType) -> None:
    values = ["a text", 3, 2.5, None, True, ["x", 1], {"k": [1, 2]}, np.arange(3), [np.arange(2), "y"]]
    for value in values:
        assert no_duplicates_module.value_key(value) == st_sampler._sample_value_str(value)
    assert no_duplicates_module.value_key(np.arange(3)) == no_duplicates_module.value_key(np.arange(3))


@pytest.mark.interop
@pytest.mark.parametrize("precompute_hashes", [False, True])
def test_precompute_settings_and_hashes_match_sentence_transformers(
    st_sampler: ModuleType, repetitive_pairs: datasets.Dataset, precompute_hashes: bool
) -> None:
    kwargs = {"batch_size": 8, "drop_last": False, "valid_label_columns": ["label"]}
    theirs = st_sampler.NoDuplicatesBatchSampler(repetitive_pairs, precompute_hashes=precompute_hashes, **kwargs)
    ours = NoDuplicatesBatchSampler(repetitive_pairs, precompute_hashes=precompute_hashes, **kwargs)
    for name in ("precompute_hashes", "precompute_num_proc", "precompute_batch_size"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.dataset.column_names == theirs.dataset.column_names
    theirs.precompute_num_proc = ours.precompute_num_proc = 1
    theirs.generator, ours.generator = torch.Generator(), torch.Generator()
    assert list(ours) == list(theirs)
    if precompute_hashes:  # hashed once on the first iteration, one hash per compared column
        assert ours._row_hashes is not None and theirs._row_hashes is not None
        assert ours._row_hashes.shape == theirs._row_hashes.shape == (len(repetitive_pairs), 2)
    else:
        assert ours._row_hashes is None and theirs._row_hashes is None
