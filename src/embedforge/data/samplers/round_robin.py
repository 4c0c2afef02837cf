"""Take one batch from each dataset in turn, until the dataset with the fewest batches runs out."""

from __future__ import annotations

from collections.abc import Iterator

from embedforge.data.samplers import sharding
from embedforge.data.samplers.multi_dataset import MultiDatasetDefaultBatchSampler


class RoundRobinBatchSampler(MultiDatasetDefaultBatchSampler):
    """Yield a batch of dataset 0, then of dataset 1, …, then of dataset 0 again, until one sampler is exhausted.

    Every dataset contributes the same number of batches, so small datasets weigh as much as large ones; the
    batches that the larger datasets have left when the smallest one runs out are not used this epoch. This is
    ``MultiDatasetBatchSamplers.ROUND_ROBIN``, with sentence-transformers' order of batches.

    Args:
        dataset: The concatenation of the datasets, in the order of ``batch_samplers``.
        batch_samplers: One batch sampler per dataset, yielding indices local to its dataset.
        generator: Random number generator shared with the children (not used by this sampler itself).
        seed: Reseed the generator with ``seed + epoch`` each epoch; ``None`` continues its stream instead.
    """

    def iter_batches(self) -> Iterator[list[int]]:
        """Yield the datasets' batches in turn, as ``ConcatDataset`` indices.

        Yields:
            Lists of ``ConcatDataset`` indices, from datasets 0, 1, …, 0, 1, …
        """
        offsets = self.offsets
        # zip stops at the first exhausted sampler, and draws one batch from every sampler before the round's
        # first batch is yielded (the order in which a shared generator is consumed, as in sentence-transformers).
        # On several processes a "batch" here is a whole step of the dataset (see MultiDatasetDefaultBatchSampler).
        iterators = [self.child_steps(sampler)[1] for sampler in self.batch_samplers]
        for steps in zip(*iterators, strict=False):
            for offset, step in zip(offsets, steps, strict=True):
                for batch in step:
                    yield [offset + index for index in batch]

    def __len__(self) -> int:
        """The number of batches: the number of datasets times the smallest child's length (in full steps)."""
        processes = sharding.resolve_num_processes(self.num_processes)
        fewest = min(self.child_steps(sampler)[0] for sampler in self.batch_samplers)
        return fewest * len(self.batch_samplers) * processes
