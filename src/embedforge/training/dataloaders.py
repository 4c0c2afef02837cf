"""Dataloaders for training and evaluation: batch samplers, multi-dataset interleaving, dataset names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import ConcatDataset, DataLoader

from embedforge.data.collator import LABEL_COLUMNS, BaseDataCollator
from embedforge.training.arguments import BatchSamplers, MultiDatasetBatchSamplers

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from embedforge.training.arguments import BaseTrainingArguments


def prepare_datasets(datasets: dict[str, Dataset] | None, with_names: bool) -> Dataset | DatasetDict | None:
    """One dataset stays a Dataset; several become a DatasetDict.

    With ``with_names`` each row gets a ``dataset_name`` column so the collator and the loss know where a batch
    comes from.
    """
    from datasets import DatasetDict

    if datasets is None:
        return None
    if with_names:
        datasets = {name: _with_name(dataset, name) for name, dataset in datasets.items()}
    if len(datasets) == 1 and not with_names:
        return next(iter(datasets.values()))
    return DatasetDict(datasets)


def _with_name(dataset: Dataset, name: str) -> Dataset:
    if "dataset_name" in dataset.column_names:
        dataset = dataset.remove_columns("dataset_name")
    return dataset.add_column("dataset_name", [name] * len(dataset))


def batch_sampler(
    choice: BatchSamplers | Callable[..., Any],
    dataset: Dataset,
    batch_size: int,
    drop_last: bool,
    valid_label_columns: tuple[str, ...],
    generator: torch.Generator,
    seed: int,
) -> Any:
    """Instantiate the batch sampler named by ``choice`` (or call a user-supplied factory)."""
    from embedforge.data import samplers

    kwargs: dict[str, Any] = {
        "batch_size": batch_size,
        "drop_last": drop_last,
        "valid_label_columns": list(valid_label_columns),
        "generator": generator,
        "seed": seed,
    }
    if not isinstance(choice, BatchSamplers):
        return choice(dataset, **kwargs)
    if choice is BatchSamplers.NO_DUPLICATES_HASHED:
        return samplers.NoDuplicatesBatchSampler(dataset, precompute_hashes=True, **kwargs)
    cls = {
        BatchSamplers.BATCH_SAMPLER: samplers.DefaultBatchSampler,
        BatchSamplers.NO_DUPLICATES: samplers.NoDuplicatesBatchSampler,
        BatchSamplers.GROUP_BY_LABEL: samplers.GroupByLabelBatchSampler,
    }[choice]
    return cls(dataset, **kwargs)


def multi_dataset_sampler(
    choice: MultiDatasetBatchSamplers | Callable[..., Any],
    dataset: ConcatDataset,
    batch_samplers: list[Any],
    generator: torch.Generator,
    seed: int,
) -> Any:
    """Instantiate the multi-dataset batch sampler named by ``choice`` (or call a factory)."""
    from embedforge.data import samplers

    if not isinstance(choice, MultiDatasetBatchSamplers):
        return choice(dataset, batch_samplers=batch_samplers, generator=generator, seed=seed)
    cls = {
        MultiDatasetBatchSamplers.ROUND_ROBIN: samplers.RoundRobinBatchSampler,
        MultiDatasetBatchSamplers.PROPORTIONAL: samplers.ProportionalBatchSampler,
    }[choice]
    return cls(dataset, batch_samplers=batch_samplers, generator=generator, seed=seed)


def build(
    dataset: Dataset | DatasetDict,
    args: BaseTrainingArguments,
    batch_size: int,
    collator: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> DataLoader:
    """A DataLoader over ``dataset`` whose batches follow ``args.batch_sampler``.

    For several datasets, ``args.multi_dataset_batch_sampler`` interleaves them; every batch comes from one.
    """
    from datasets import DatasetDict

    generator = torch.Generator()
    generator.manual_seed(args.seed)
    label_columns = collator.valid_label_columns if isinstance(collator, BaseDataCollator) else LABEL_COLUMNS
    options = (batch_size, args.dataloader_drop_last, tuple(label_columns), generator, args.seed)
    if isinstance(dataset, DatasetDict):
        samplers = [batch_sampler(args.batch_sampler, part, *options) for part in dataset.values()]
        dataset = ConcatDataset(list(dataset.values()))
        sampler = multi_dataset_sampler(args.multi_dataset_batch_sampler, dataset, samplers, generator, args.seed)
    else:
        sampler = batch_sampler(args.batch_sampler, dataset, *options)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collator,
        num_workers=args.dataloader_num_workers,
        pin_memory=args.dataloader_pin_memory,
        persistent_workers=args.dataloader_persistent_workers and args.dataloader_num_workers > 0,
        prefetch_factor=args.dataloader_prefetch_factor if args.dataloader_num_workers > 0 else None,
    )
