"""The base class of every single-dataset batch sampler.

A batch sampler yields lists of dataset row indices, one list per batch. The trainer calls
:meth:`BatchSampler.set_epoch` at the start of every epoch; the sampler then reseeds its generator with
``seed + epoch`` when iteration starts, so an epoch's batches depend only on the seed and the epoch number
(the same epoch always gives the same batches, different epochs give different ones).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sized

import torch
from torch.utils.data import BatchSampler as TorchBatchSampler


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
    """

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
        yield from self.iter_batches()

    @abstractmethod
    def iter_batches(self) -> Iterator[list[int]]:
        """Yield the batches of the current epoch; the generator has already been reseeded.

        Yields:
            One list of dataset row indices per batch.
        """

    def __len__(self) -> int:
        """The number of batches in an epoch: ``ceil(len(dataset) / batch_size)``, or the floor with ``drop_last``."""
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size
