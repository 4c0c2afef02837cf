"""Draw batches from the datasets in random order, in proportion to each dataset's number of batches."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from embedforge.data.samplers import sharding
from embedforge.data.samplers.multi_dataset import MultiDatasetDefaultBatchSampler


class ProportionalBatchSampler(MultiDatasetDefaultBatchSampler):
    """Use every batch of every dataset once per epoch, the datasets interleaved in a random order.

    The epoch's schedule is a random permutation of a list holding each dataset's number ``len(sampler)`` times;
    the k-th occurrence of a dataset takes that dataset's k-th batch. Larger datasets are therefore drawn from
    more often, and all their samples are used. This is ``MultiDatasetBatchSamplers.PROPORTIONAL`` (the default),
    with sentence-transformers' order of batches for the same generator state.

    A child sampler that yields fewer batches than its ``len`` (``NoDuplicatesBatchSampler`` with
    ``drop_last=True`` on very repetitive data) leaves its remaining slots empty; one that yields more
    (``NoDuplicatesBatchSampler`` with ``drop_last=False``) has its extra batches left out this epoch, as in
    sentence-transformers, so that the epoch never exceeds :meth:`__len__`.

    Args:
        dataset: The concatenation of the datasets, in the order of ``batch_samplers``.
        batch_samplers: One batch sampler per dataset, yielding indices local to its dataset.
        generator: Random number generator for the schedule (shared with the children in the trainer).
        seed: Reseed the generator with ``seed + epoch`` each epoch; ``None`` continues its stream instead.
    """

    def iter_batches(self) -> Iterator[list[int]]:
        """Yield every dataset's batches, as ``ConcatDataset`` indices, in a random interleaving.

        Yields:
            Lists of ``ConcatDataset`` indices, each from a single dataset.
        """
        offsets = self.offsets
        counts, iterators = zip(*(self.child_steps(sampler) for sampler in self.batch_samplers), strict=True)
        schedule = [dataset for dataset, count in enumerate(counts) for _ in range(count)]
        order = torch.randperm(len(schedule), generator=self.generator).tolist()
        for position in order:
            dataset = schedule[position]
            step = next(iterators[dataset], None)
            for batch in step or ():
                yield [offsets[dataset] + index for index in batch]

    def __len__(self) -> int:
        """The number of batches: the sum of the child samplers' lengths (of their full steps, on several processes)."""
        processes = sharding.resolve_num_processes(self.num_processes)
        return sum(self.child_steps(sampler)[0] for sampler in self.batch_samplers) * processes
