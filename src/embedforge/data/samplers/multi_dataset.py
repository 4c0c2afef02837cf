"""The base class of the batch samplers that draw batches from several datasets at once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch
from torch.utils.data import BatchSampler as TorchBatchSampler
from torch.utils.data import ConcatDataset


@runtime_checkable
class _SupportsSetEpoch(Protocol):
    """A sampler whose order depends on the epoch."""

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch."""


class MultiDatasetDefaultBatchSampler(TorchBatchSampler, ABC):
    """Base class of the samplers that interleave the batches of one batch sampler per dataset.

    The trainer concatenates the datasets into a :class:`~torch.utils.data.ConcatDataset` and builds one batch
    sampler per dataset; this sampler decides in which order their batches come. Every batch it yields comes from
    a single dataset, with the indices shifted by that dataset's offset in the ``ConcatDataset``. Subclasses
    implement :meth:`iter_batches` and :meth:`__len__`.

    :meth:`set_epoch` is passed on to every child sampler, and iteration reseeds the generator with
    ``seed + epoch`` first. In sentence-transformers' trainer the children share this sampler's generator; the
    children are started lazily, when their first batch is needed.

    Args:
        dataset: The concatenation of the datasets, in the order of ``batch_samplers``.
        batch_samplers: One batch sampler per dataset in ``dataset.datasets``, yielding indices local to it.
        generator: Random number generator for the dataset order (a private one when ``None``).
        seed: Reseed the generator with ``seed + epoch`` each epoch; ``None`` continues its stream instead.

    Raises:
        ValueError: If the number of batch samplers differs from the number of datasets, or there are none.
    """

    def __init__(
        self,
        dataset: ConcatDataset,
        batch_samplers: list[TorchBatchSampler],
        generator: torch.Generator | None = None,
        seed: int | None = 0,
    ) -> None:
        if not batch_samplers or len(dataset.datasets) != len(batch_samplers):
            raise ValueError(
                f"{type(self).__name__} needs one batch sampler per dataset of the ConcatDataset, but got "
                f"{len(batch_samplers)} batch sampler(s) for {len(dataset.datasets)} dataset(s)."
            )
        first = batch_samplers[0]
        super().__init__(dataset, batch_size=first.batch_size, drop_last=first.drop_last)
        self.dataset = dataset
        self.batch_samplers = batch_samplers
        self.generator = generator if generator is not None else torch.Generator()
        self.seed = seed
        self.epoch = 0

    @property
    def offsets(self) -> list[int]:
        """The index in the ``ConcatDataset`` of each dataset's first row."""
        return [0, *self.dataset.cumulative_sizes[:-1]]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch, for this sampler and for every child sampler that has ``set_epoch``.

        Args:
            epoch: The epoch number (0-based).
        """
        self.epoch = epoch
        for sampler in self.batch_samplers:
            if isinstance(sampler, _SupportsSetEpoch):
                sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        """Reseed the generator (lazily, at the first batch), then yield this epoch's batches.

        Yields:
            Lists of ``ConcatDataset`` indices, each list from a single dataset.
        """
        if self.seed is not None:
            self.generator.manual_seed(self.seed + self.epoch)
        yield from self.iter_batches()

    @abstractmethod
    def iter_batches(self) -> Iterator[list[int]]:
        """Yield the batches of the current epoch; the generator has already been reseeded.

        Yields:
            Lists of ``ConcatDataset`` indices, each list from a single dataset.
        """

    @abstractmethod
    def __len__(self) -> int:
        """The number of batches per epoch."""
