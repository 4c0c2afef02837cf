"""The default batch sampler: a fresh random permutation of the dataset, cut into batches."""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import BatchSampler as TorchBatchSampler
from torch.utils.data import RandomSampler

from embedforge.data.samplers.base import BatchSampler


class DefaultBatchSampler(BatchSampler):
    """Shuffle all rows each epoch and cut the permutation into batches of ``batch_size``.

    This is exactly torch's :class:`~torch.utils.data.BatchSampler` over a
    :class:`~torch.utils.data.RandomSampler` that uses this sampler's generator, which is what
    sentence-transformers' trainer builds for ``BatchSamplers.BATCH_SAMPLER``: for the same generator state the
    batches are identical, index for index. Each epoch the generator is reseeded with ``seed + epoch`` (as
    accelerate's seedable sampler does for sentence-transformers' trainer).

    Every row appears exactly once per epoch; only the last batch can be smaller than ``batch_size`` (and is
    dropped with ``drop_last=True``).

    Args:
        dataset: The dataset to sample from; only its length is used.
        batch_size: Number of samples per batch.
        drop_last: Drop the last batch when it holds fewer than ``batch_size`` samples.
        valid_label_columns: Accepted for a uniform signature; unused.
        generator: Random number generator for the permutation (a private one when ``None``).
        seed: Reseed the generator with ``seed + epoch`` each epoch; ``None`` continues its stream instead.

    Example:
        >>> sampler = DefaultBatchSampler(list(range(10)), batch_size=4, drop_last=False, seed=0)
        >>> [len(batch) for batch in sampler]
        [4, 4, 2]
    """

    def iter_batches(self) -> Iterator[list[int]]:
        """Yield the batches of one random permutation of the row indices.

        Yields:
            Lists of row indices, ``batch_size`` long except possibly the last.
        """
        if len(self.dataset) == 0:
            return
        rows = RandomSampler(range(len(self.dataset)), generator=self.generator)
        yield from TorchBatchSampler(rows, batch_size=self.batch_size, drop_last=self.drop_last)
