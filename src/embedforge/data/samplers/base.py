"""The base class of every single-dataset batch sampler.

A batch sampler yields lists of dataset row indices, one list per batch. The trainer calls
:meth:`BatchSampler.set_epoch` at the start of every epoch; the sampler then reseeds its generator with
``seed + epoch`` when iteration starts, so an epoch's batches depend only on the seed and the epoch number
(the same epoch always gives the same batches, different epochs give different ones).

Under torch.distributed (DDP / FSDP) the batches are laid out in whole steps for accelerate's sharding: see
:mod:`embedforge.data.samplers.sharding`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sized

import torch
from torch.utils.data import BatchSampler as TorchBatchSampler

from embedforge.data.samplers import sharding


class BatchSampler(TorchBatchSampler, ABC):
    """Base class of the single-dataset batch samplers (sentence-transformers' ``SetEpochMixin`` + ``BatchSampler``).

    It is a :class:`torch.utils.data.BatchSampler` (its ``sampler`` attribute is the dataset itself) so it can be
    given to a :class:`~torch.utils.data.DataLoader` as ``batch_sampler``. Subclasses implement
    :meth:`iter_batches`; :meth:`__iter__` reseeds the generator and then delegates to it.

    Args:
        dataset: The dataset to sample from; only its length is used here, subclasses may read its columns.
        batch_size: Number of samples per batch, a positive integer.
        drop_last: Drop the last batch when it holds fewer than ``batch_size`` samples.
        valid_label_columns: Column names that may hold labels; the first one present in the dataset is the
            label column. Samplers that look at sample contents ignore these columns.
        generator: Random number generator for shuffling. ``None`` creates a private one (sentence-transformers
            falls back to torch's global generator instead).
        seed: The generator is reseeded with ``seed + epoch`` when each epoch's iteration starts. ``None`` never
            reseeds: the generator's stream simply continues, epoch after epoch.

    Attributes:
        dataset: The dataset the indices refer to.
        epoch: The epoch set by :meth:`set_epoch` (0 until then).
        num_processes: Processes the batches are laid out for (see :mod:`~embedforge.data.samplers.sharding`);
            None (the default) reads the torch.distributed world size when iteration starts, 1 without a process
            group. With more than 1, the batches come in whole steps of ``num_processes`` equal batches.
    """

    tail_multiple: int = 1
    """The leftover step's batch size is rounded down to a multiple of this."""
    tail_min_size: int = 1
    """The leftover step is dropped when its per-device batches would hold fewer rows."""

    def __init__(
        self,
        dataset: Sized,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = 0,
    ) -> None:
        # torch validates batch_size (positive int) and drop_last (bool) and stores them.
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last)
        self.dataset = dataset
        self.valid_label_columns = valid_label_columns
        self.generator = generator if generator is not None else torch.Generator()
        self.seed = seed
        self.epoch = 0
        self.num_processes: int | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches the next iteration yields.

        Args:
            epoch: The epoch number (0-based); the generator is reseeded with ``seed + epoch``.
        """
        self.epoch = epoch

    def reseed(self) -> None:
        """Reseed the generator with ``seed + epoch`` (nothing happens when ``seed`` is ``None``)."""
        if self.seed is not None:
            self.generator.manual_seed(self.seed + self.epoch)

    def __iter__(self) -> Iterator[list[int]]:
        """Yield this epoch's batches of row indices.

        The generator is reseeded lazily, when the first batch is requested (as sentence-transformers does), so
        samplers that share one generator consume it in the same order.

        Yields:
            One list of dataset row indices per batch.
        """
        self.reseed()
        processes = sharding.resolve_num_processes(self.num_processes)
        if processes == 1:
            yield from self.iter_batches()
            return
        yield from sharding.whole_steps(
            self.iter_steps(processes),
            processes,
            self.batch_size,
            keep_tail=not self.drop_last,
            multiple=self.tail_multiple,
            min_size=self.tail_min_size,
            accept=self.accepts_leftover_batch,
        )

    def accepts_leftover_batch(self, batch: list[int]) -> bool:
        """Whether a batch cut from the leftover rows keeps the sampler's promise (the leftover step is dropped if not).

        Args:
            batch: Row indices of one per-device batch of the last step.

        Returns:
            True here; samplers with a promise about a batch's content override it.
        """
        del batch
        return True

    def iter_steps(self, num_processes: int) -> Iterator[list[list[int]]]:
        """Yield this epoch's batches grouped in steps of ``num_processes`` (called with more than 1 process).

        The default groups consecutive batches of :meth:`iter_batches`; samplers whose promise covers the whole
        global batch (no duplicates) override it. Steps that are not full end the epoch (see
        :func:`~embedforge.data.samplers.sharding.whole_steps`).

        Args:
            num_processes: Batches per step.

        Yields:
            Lists of per-device batches.
        """
        yield from sharding.steps_of(self.iter_batches(), num_processes)

    @abstractmethod
    def iter_batches(self) -> Iterator[list[int]]:
        """Yield the batches of the current epoch; the generator has already been reseeded.

        Yields:
            One list of dataset row indices per batch.
        """

    def stream_rows(self) -> int:
        """The number of rows the sampler places in batches over one epoch (all rows unless overridden)."""
        return len(self.dataset)

    def __len__(self) -> int:
        """The number of batches in an epoch, on one process or (with several) summed over the processes.

        On one process: :meth:`single_process_length`. With several: whole steps of equal batches, a multiple of
        the number of processes (see :func:`~embedforge.data.samplers.sharding.sharded_length`).
        """
        processes = sharding.resolve_num_processes(self.num_processes)
        if processes == 1:
            return self.single_process_length()
        return sharding.sharded_length(
            self.stream_rows(),
            processes,
            self.batch_size,
            keep_tail=not self.drop_last,
            multiple=self.tail_multiple,
            min_size=self.tail_min_size,
        )

    def single_process_length(self) -> int:
        """``ceil(len(dataset) / batch_size)``, or the floor with ``drop_last``."""
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size
