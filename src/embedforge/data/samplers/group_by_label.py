"""A batch sampler for in-batch triplet mining: every batch holds pairs of samples from several labels."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING

import torch

from embedforge.data.samplers import sharding
from embedforge.data.samplers.default import DefaultBatchSampler

if TYPE_CHECKING:
    from datasets import Dataset


class GroupByLabelBatchSampler(DefaultBatchSampler):
    """Interleave pairs of same-label samples so that every batch holds at least 2 labels with at least 2 samples each.

    The batch triplet losses (``BatchAllTripletLoss``, ``BatchHardTripletLoss``,
    ``BatchHardSoftMarginTripletLoss``, ``BatchSemiHardTripletLoss``) mine positives and negatives inside the
    batch, so each batch needs several samples of a label and several labels. Each epoch, following
    sentence-transformers' ``GroupByLabelBatchSampler`` exactly (same batches for the same generator state):

    1. the samples of each label are shuffled and trimmed to an even count (labels with fewer than 2 samples are
       never used);
    2. in rounds, every label still holding samples emits 2 of them, in an order reshuffled each round (and
       swapped so that two consecutive pairs in a batch never share a label across rounds); the rounds stop when
       fewer than 2 labels remain, so the largest label's tail is left out;
    3. this stream is cut into batches of ``batch_size``; a final shorter batch is kept (without ``drop_last``)
       only if it holds at least 4 samples.

    So a sample is used at most once per epoch, and every batch's samples come in consecutive same-label pairs.

    With several processes (see :mod:`~embedforge.data.samplers.sharding`) full steps are the same batches; the
    leftover stream rows are shared equally in whole pairs (at least 4 rows per device, and at least 2 labels in
    each device's batch; otherwise the leftover step is dropped).

    Args:
        dataset: A :class:`datasets.Dataset` (anything with ``column_names`` and ``dataset[column]``).
        batch_size: Number of samples per batch: an even number, at least 4.
        drop_last: Drop the last batch when it holds fewer than ``batch_size`` samples.
        valid_label_columns: Candidate label columns; the first one present in the dataset holds the labels
            (hashable values).
        generator: Random number generator for shuffling (a private one when ``None``).
        seed: Reseed the generator with ``seed + epoch`` each epoch; ``None`` continues its stream instead.

    Raises:
        ValueError: If ``batch_size`` is odd or below 4, no label column is found, or fewer than 2 labels have at
            least 2 samples.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = 0,
    ) -> None:
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if batch_size < 4 or batch_size % 2 == 1:
            raise ValueError(
                f"GroupByLabelBatchSampler needs an even batch_size >= 4 (pairs of samples from at least 2 labels), "
                f"but got batch_size={batch_size}."
            )
        groups: dict[Hashable, list[int]] = defaultdict(list)
        for index, label in enumerate(_label_values(dataset, valid_label_columns)):
            groups[label].append(index)
        self.groups = {label: indices for label, indices in groups.items() if len(indices) >= 2}
        self._label_of = {index: label for label, indices in self.groups.items() for index in indices}
        if len(self.groups) < 2:
            raise ValueError(
                "GroupByLabelBatchSampler needs at least 2 distinct labels with at least 2 samples each, but only "
                f"{len(self.groups)} label(s) qualify. Use another batch sampler, or a dataset with more labels."
            )
        pair_counts = sorted((len(indices) // 2 for indices in self.groups.values()), reverse=True)
        # The rounds stop once the second-largest label is exhausted.
        self._stream_length = 2 * sum(min(count, pair_counts[1]) for count in pair_counts)

    tail_multiple = 2
    tail_min_size = 4

    def iter_batches(self) -> Iterator[list[int]]:
        """Yield this epoch's batches, cut from the round-robin stream of same-label pairs.

        Yields:
            Lists of row indices, ``batch_size`` long except possibly the last (at least 4 long).
        """
        for batch in self._cut_stream():
            if len(batch) == self.batch_size or (not self.drop_last and len(batch) >= 4):
                yield batch

    def iter_steps(self, num_processes: int) -> Iterator[list[list[int]]]:
        """Yield the stream's batches in steps of ``num_processes``, the short last batch always included.

        The leftover rows (whole pairs) are shared equally by the processes (see
        :mod:`~embedforge.data.samplers.sharding`), so a short last batch counts even below 4 rows.

        Args:
            num_processes: Batches per step.

        Yields:
            Lists of per-device batches.
        """
        yield from sharding.steps_of(self._cut_stream(), num_processes)

    def accepts_leftover_batch(self, batch: list[int]) -> bool:
        """A leftover batch must hold at least 2 labels, as every batch does.

        Args:
            batch: Row indices of one per-device batch of the last step.

        Returns:
            Whether its rows carry at least 2 distinct labels.
        """
        return len({self._label_of[index] for index in batch}) >= 2

    def _cut_stream(self) -> Iterator[list[int]]:
        """Cut the pair stream into batches of ``batch_size`` rows, the last one possibly shorter (never empty)."""
        batch: list[int] = []
        for pair in self._pair_stream():
            batch.extend(pair)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _pair_stream(self) -> Iterator[tuple[int, int]]:
        """Yield same-label pairs, label after label in reshuffled rounds, until fewer than 2 labels remain.

        The generator is consumed lazily, round by round, as sentence-transformers does (this matters when
        several samplers share one generator).

        Yields:
            Two row indices with the same label.
        """
        queues: dict[Hashable, deque[int]] = {}
        for label, indices in self.groups.items():
            order = torch.randperm(len(indices), generator=self.generator).tolist()
            queues[label] = deque(indices[i] for i in order[: len(indices) // 2 * 2])
        labels = list(queues)
        emitted = 0
        last_label: Hashable | None = None
        while len(labels) >= 2:
            labels = [labels[i] for i in torch.randperm(len(labels), generator=self.generator).tolist()]
            batch_is_open = emitted % self.batch_size != 0
            if batch_is_open and labels[0] == last_label:
                labels[0], labels[1] = labels[1], labels[0]
            for label in labels:
                yield queues[label].popleft(), queues[label].popleft()
                emitted += 2
            last_label = labels[-1]
            labels = [label for label in labels if queues[label]]

    def stream_rows(self) -> int:
        """The number of rows in the epoch's pair stream (every label's pairs until fewer than 2 labels remain)."""
        return self._stream_length

    def single_process_length(self) -> int:
        """The number of batches per epoch (a final batch counts only if it holds at least 4 samples)."""
        num_batches, rest = divmod(self._stream_length, self.batch_size)
        if not self.drop_last and rest >= 4:
            num_batches += 1
        return num_batches


def _label_values(dataset: Dataset, valid_label_columns: list[str] | None) -> list[Hashable]:
    """Return the labels from the first of ``valid_label_columns`` that the dataset has.

    Raises:
        ValueError: If none of them is a column of the dataset.
    """
    for column in valid_label_columns or ():
        if column in dataset.column_names:
            return list(dataset[column])
    raise ValueError(
        f"GroupByLabelBatchSampler found none of the label columns {valid_label_columns} in the dataset, whose "
        f"columns are {dataset.column_names}. Pass valid_label_columns naming the column that holds the labels "
        "(e.g. ['label'])."
    )
