"""The base class of the batch samplers that draw batches from several datasets at once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch
from torch.utils.data import BatchSampler as TorchBatchSampler
from torch.utils.data import ConcatDataset

from embedforge.data.samplers import sharding
from embedforge.data.samplers.base import BatchSampler


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

    Under torch.distributed (see :mod:`~embedforge.data.samplers.sharding`) the batches come in whole steps:
    the ``num_processes`` per-device batches of a step are consecutive full batches of one dataset, so every rank
    computes the same dataset's loss at the same step (the columns of a gathered loss match). Each dataset's
    leftover rows (fewer than ``num_processes * batch_size``, after its last full step) are not used that epoch.

    Raises:
        ValueError: If the number of batch samplers differs from the number of datasets, or there are none.

    Attributes:
        num_processes: Processes the batches are laid out for; None (the default) reads the torch.distributed
            world size. Set it with :meth:`set_num_processes`, which sets the children's too.
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
        self.num_processes: int | None = None

    @property
    def offsets(self) -> list[int]:
        """The index in the ``ConcatDataset`` of each dataset's first row."""
        return [0, *self.dataset.cumulative_sizes[:-1]]

    def set_num_processes(self, num_processes: int | None) -> None:
        """Lay the batches out for ``num_processes`` processes (None: the torch.distributed world size).

        The child samplers that are :class:`~embedforge.data.samplers.BatchSampler` get the same setting.

        Args:
            num_processes: The number of processes, or None.
        """
        self.num_processes = num_processes
        for sampler in self.batch_samplers:
            if isinstance(sampler, BatchSampler):
                sampler.num_processes = num_processes

    def child_steps(self, sampler: TorchBatchSampler) -> tuple[int, Iterator[list[list[int]]]]:
        """A child sampler's steps this epoch: how many to schedule, and an iterator over them (started lazily).

        On one process a step is one batch. With several, a step is ``num_processes`` full consecutive batches of
        the child, up to its first incomplete step.

        Args:
            sampler: One of ``batch_samplers``.

        Returns:
            ``(count, steps)``; ``steps`` may run out before ``count`` when a child yields fewer batches.
        """
        processes = sharding.resolve_num_processes(self.num_processes)
        if processes == 1:
            return len(sampler), ([batch] for batch in sampler)
        if isinstance(sampler, BatchSampler):
            count = sampler.stream_rows() // (processes * sampler.batch_size)
        else:
            count = len(sampler) // processes
        return count, sharding.full_steps(_lazy_iter(sampler), processes, sampler.batch_size)

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


def _lazy_iter(sampler: TorchBatchSampler) -> Iterator[list[int]]:
    """Iterate ``sampler`` only when the first batch is requested (a shared generator is consumed in order)."""
    yield from sampler
