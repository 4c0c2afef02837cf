"""Batch samplers: which dataset rows go together in a batch, and in which order, epoch by epoch.

Single-dataset samplers (sentence-transformers' ``BatchSamplers``): :class:`DefaultBatchSampler`
(``"batch_sampler"``), :class:`NoDuplicatesBatchSampler` (``"no_duplicates"``; with ``precompute_hashes=True``
it is ``"no_duplicates_hashed"``) and :class:`GroupByLabelBatchSampler` (``"group_by_label"``), all subclasses of
:class:`BatchSampler`. Multi-dataset samplers (``MultiDatasetBatchSamplers``): :class:`RoundRobinBatchSampler`
(``"round_robin"``) and :class:`ProportionalBatchSampler` (``"proportional"``), subclasses of
:class:`MultiDatasetDefaultBatchSampler`.

Under DDP / FSDP every sampler yields whole steps (the per-device batches of one step, sharded by accelerate, form
the global batch): :mod:`embedforge.data.samplers.sharding` states what happens to the rows left over.
"""

from __future__ import annotations

from embedforge.data.samplers.base import BatchSampler
from embedforge.data.samplers.default import DefaultBatchSampler
from embedforge.data.samplers.group_by_label import GroupByLabelBatchSampler
from embedforge.data.samplers.multi_dataset import MultiDatasetDefaultBatchSampler
from embedforge.data.samplers.no_duplicates import NoDuplicatesBatchSampler
from embedforge.data.samplers.proportional import ProportionalBatchSampler
from embedforge.data.samplers.round_robin import RoundRobinBatchSampler

__all__ = [
    "BatchSampler",
    "DefaultBatchSampler",
    "GroupByLabelBatchSampler",
    "MultiDatasetDefaultBatchSampler",
    "NoDuplicatesBatchSampler",
    "ProportionalBatchSampler",
    "RoundRobinBatchSampler",
]
