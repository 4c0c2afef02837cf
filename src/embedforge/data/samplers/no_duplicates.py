"""A batch sampler that never puts the same value (text) twice in one batch, across all of a row's columns."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from embedforge.data.samplers.default import DefaultBatchSampler

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)

_EXCLUDED_COLUMNS = frozenset({"dataset_name"})
"""Columns never compared: the trainer's routing column holds the same value in every row of a dataset."""

_MAX_RESAMPLE_PASSES = 2
"""Extra shuffled passes an epoch may run to reach the number of batches that ``__len__`` promised."""

_HASH_COLUMN = "__hashes"
_PLAIN_TYPES = (str, int, float, bool, bytes, type(None), np.integer, np.floating, np.bool_)


class NoDuplicatesBatchSampler(DefaultBatchSampler):
    """Shuffle the rows, then fill each batch with rows that share no value with the rows already in it.

    Losses with in-batch negatives (``MultipleNegativesRankingLoss``, ``CachedMultipleNegativesRankingLoss``,
    ``GISTEmbedLoss``, ``MegaBatchMarginLoss``…) treat every other text in the batch as a negative; a duplicate
    text would then be a "negative" identical to the positive. Rows are compared on all their columns at once
    (an anchor equal to another row's positive is a duplicate too); the label columns in ``valid_label_columns``
    and the trainer's ``dataset_name`` column are ignored. Values are compared by their ``str()`` (other objects,
    such as images, by a digest of their pickled content), as sentence-transformers does.

    Batches are built greedily from one shuffled order: a row that conflicts with the current batch is deferred
    (it keeps its place in the order) and tried again for the next batch. So with ``drop_last=False`` every row is
    used exactly once per epoch, possibly in more (smaller) batches than ``__len__`` says; with ``drop_last=True``
    a pass that yields fewer than ``__len__`` full batches is followed by up to two reshuffled passes (rows may
    then repeat within the epoch), and a warning is logged. For the same generator state the batches equal
    sentence-transformers' ``NoDuplicatesBatchSampler``'s, index for index. Each row is read once per pass: the
    values of deferred rows are kept until they are placed.

    With several processes (DDP / FSDP, see :mod:`~embedforge.data.samplers.sharding`) the promise covers the
    global batch: each step's ``num_processes`` per-device batches are cut from one duplicate-free batch of
    ``num_processes * batch_size`` rows. The first global batch that cannot be filled ends the epoch: its rows are
    shared equally by the processes, and the rows still deferred after it (they clash with it) wait for the next
    epoch's shuffle.

    Args:
        dataset: A :class:`datasets.Dataset` (anything with ``column_names``, ``remove_columns``, ``map`` and
            row access ``dataset[i] -> dict``).
        batch_size: Number of samples per batch.
        drop_last: Drop batches with fewer than ``batch_size`` samples.
        valid_label_columns: Label columns, excluded from the duplicate check.
        generator: Random number generator for shuffling (a private one when ``None``).
        seed: Reseed the generator with ``seed + epoch`` each epoch; ``None`` continues its stream instead.
        precompute_hashes: Hash every value once (64-bit xxhash when ``xxhash`` is installed, else BLAKE2b) with
            ``datasets.map`` on the first iteration, instead of reading (and, for media, decoding) the rows from the
            dataset in every pass: faster, at a cost of ``8 * len(dataset) * num_columns`` bytes. This is
            ``BatchSamplers.NO_DUPLICATES_HASHED``.
        precompute_num_proc: Processes for the hashing ``map``; ``None`` means ``min(8, cpu_count - 1)``
            (at least 1).
        precompute_batch_size: Rows per ``map`` batch when hashing.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = 0,
        precompute_hashes: bool = False,
        precompute_num_proc: int | None = None,
        precompute_batch_size: int = 1000,
    ) -> None:
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        label_columns = [column for column in dataset.column_names if column in (valid_label_columns or ())]
        self.dataset: Dataset = dataset.remove_columns(label_columns) if label_columns else dataset
        self.precompute_hashes = precompute_hashes
        if precompute_hashes and precompute_num_proc is None:
            precompute_num_proc = max(1, min(8, (os.cpu_count() or 1) - 1))
        self.precompute_num_proc = precompute_num_proc
        self.precompute_batch_size = precompute_batch_size
        self._row_hashes: np.ndarray | None = None

    def iter_batches(self) -> Iterator[list[int]]:
        """Yield this epoch's duplicate-free batches (see the class docstring for the resampling rule).

        Yields:
            Lists of row indices whose rows share no value.
        """
        yield from self._iter_sized(self.batch_size, len(self))

    def iter_steps(self, num_processes: int) -> Iterator[list[list[int]]]:
        """Yield steps whose global batch (all ``num_processes`` batches together) holds no value twice.

        Global batches of ``num_processes * batch_size`` rows are built by the same greedy rule as on one
        process, then cut into consecutive per-device batches, so losses that gather embeddings across devices
        see no duplicate either.

        Args:
            num_processes: Batches per step.

        Yields:
            Lists of ``num_processes`` per-device batches (possibly short or empty at the end of the epoch).
        """
        size = num_processes * self.batch_size
        steps = len(self.dataset) // size if self.drop_last else -(-len(self.dataset) // size)
        for batch in self._iter_sized(size, steps):
            yield [batch[part * self.batch_size : (part + 1) * self.batch_size] for part in range(num_processes)]

    def _iter_sized(self, size: int, expected: int) -> Iterator[list[int]]:
        """Yield duplicate-free batches of ``size`` rows, reshuffling (with ``drop_last``) to reach ``expected``.

        Args:
            size: Rows per batch.
            expected: The number of batches the epoch should hold.

        Yields:
            Lists of row indices whose rows share no value.
        """
        if len(self.dataset) == 0:
            return
        keys_of = self._row_keys_function()
        yielded = 0
        for batch in self._one_pass(keys_of, size):
            yield batch
            yielded += 1
        if yielded >= expected:
            return
        if yielded > 0:
            _warn_once(
                f"NoDuplicatesBatchSampler produced only {yielded} of the expected {expected} batches in a full "
                f"pass over the dataset; the remaining {expected - yielded} batches are drawn from reshuffled "
                "passes, so some samples repeat within this epoch."
            )
            for _ in range(_MAX_RESAMPLE_PASSES):
                for batch in self._one_pass(keys_of, size):
                    yield batch
                    yielded += 1
                    if yielded >= expected:
                        return
        _warn_once(
            f"NoDuplicatesBatchSampler yielded only {yielded} of the expected {expected} batches: the dataset has "
            f"too few distinct values for batch_size={self.batch_size}. Lower the batch size."
        )

    def _one_pass(self, keys_of: Callable[[int], set[Hashable]], size: int) -> Iterator[list[int]]:
        """Yield the batches of one shuffled pass, using every row once (incomplete batches only without drop_last).

        Args:
            keys_of: Maps a row index to the set of its comparable values (strings or hashes).
            size: Rows per batch.

        Yields:
            Lists of row indices whose rows share no value.
        """
        order = torch.randperm(len(self.dataset), generator=self.generator).tolist()
        remaining: deque[tuple[int, set[Hashable] | None]] = deque((index, None) for index in order)
        while remaining:
            batch = self._fill_batch(remaining, keys_of, size)
            if len(batch) == size or not self.drop_last:
                yield batch

    def _fill_batch(
        self,
        remaining: deque[tuple[int, set[Hashable] | None]],
        keys_of: Callable[[int], set[Hashable]],
        size: int,
    ) -> list[int]:
        """Take rows from the front of ``remaining`` into a batch, leaving conflicting rows in place, in order.

        Args:
            remaining: The rows not used yet in this pass, in shuffled order, each with its values once they
                have been read (deferred rows keep them, so they are not read again); taken rows are removed.
            keys_of: Maps a row index to the set of its comparable values.
            size: Rows per batch.

        Returns:
            The batch: ``size`` rows, or fewer when ``remaining`` ran out of compatible rows.
        """
        batch: list[int] = []
        seen: set[Hashable] = set()
        skipped: list[tuple[int, set[Hashable]]] = []
        while remaining and len(batch) < size:
            index, keys = remaining.popleft()
            if keys is None:
                keys = keys_of(index)
            if keys.isdisjoint(seen):
                batch.append(index)
                seen.update(keys)
            else:
                skipped.append((index, keys))
        remaining.extendleft(reversed(skipped))
        return batch

    def _row_keys_function(self) -> Callable[[int], set[Hashable]]:
        """Return the function that maps a row index to the set of its comparable values."""
        if self.precompute_hashes:
            if self._row_hashes is None:
                self._row_hashes = self._compute_row_hashes()
            row_hashes = self._row_hashes
            return lambda index: set(row_hashes[index].tolist())
        return lambda index: {
            value_key(value) for column, value in self.dataset[index].items() if column not in _EXCLUDED_COLUMNS
        }

    def _compute_row_hashes(self) -> np.ndarray:
        """Hash every compared value of the dataset once.

        Returns:
            An int64 array of shape ``(len(dataset), num_compared_columns)``.
        """
        columns = [column for column in self.dataset.column_names if column not in _EXCLUDED_COLUMNS]
        if not columns:
            return np.zeros((len(self.dataset), 0), dtype=np.int64)
        hashed = self.dataset.map(
            hash_rows,
            batched=True,
            batch_size=self.precompute_batch_size,
            num_proc=self.precompute_num_proc,
            remove_columns=self.dataset.column_names,
            fn_kwargs={"columns": columns},
            desc="Hashing dataset values",
        )
        lists = hashed.data.column(_HASH_COLUMN).combine_chunks()
        values = lists.flatten().to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        return values.reshape(len(hashed), len(columns))


def hash_rows(batch: dict[str, list[Any]], columns: list[str]) -> dict[str, list[list[int]]]:
    """Hash the compared values of a batch of rows (a ``datasets.map`` function, so it lives at module level).

    Args:
        batch: Column name -> values of a batch of rows.
        columns: The columns to hash, in order.

    Returns:
        ``{"__hashes": rows}``, each row a list of one signed 64-bit hash per column.
    """
    hasher = _int64_hasher()
    num_rows = len(batch[columns[0]])
    return {_HASH_COLUMN: [[hasher(value_key(batch[column][row])) for column in columns] for row in range(num_rows)]}


def value_key(value: Any) -> str:
    """The string under which a value is compared for duplicates (sentence-transformers' rule).

    Plain values (strings, numbers, ``None``…) and lists of them use their ``str()``; containers of other
    objects are rendered item by item; any other object (an image, an audio array) is digested from its pickled
    content, because its ``str()`` often holds a memory address that changes on every dataset access.

    Args:
        value: A dataset cell.

    Returns:
        The comparison key.
    """
    if isinstance(value, _PLAIN_TYPES):
        return str(value)
    if isinstance(value, (list, tuple)):
        if all(isinstance(item, _PLAIN_TYPES) for item in value):
            return str(value)
        return "[" + ", ".join(value_key(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {value_key(item)}" for key, item in value.items()) + "}"
    return _content_digest(value)


def _content_digest(value: Any) -> str:
    """SHA-256 of the pickled object, or its ``str()`` when it cannot be pickled (then it never matches)."""
    # datasets' Audio / Video decoders pickle a fresh storage key on every access; the encoded source they carry
    # (the private ``_hf_encoded``) is stable, so digest that instead, as sentence-transformers does.
    encoded = getattr(value, "_hf_encoded", None)
    if encoded is not None:
        value = encoded
    try:
        return hashlib.sha256(pickle.dumps(value)).hexdigest()
    except (pickle.PicklingError, TypeError, AttributeError):
        return str(value)


@functools.cache
def _int64_hasher() -> Callable[[str], int]:
    """Return the string -> signed 64-bit hash function: xxh64 when ``xxhash`` is installed, else BLAKE2b."""
    try:
        import xxhash
    except ImportError:
        return _blake2b_int64

    def xxh64_int64(text: str) -> int:
        return int.from_bytes(xxhash.xxh64_digest(text.encode("utf-8")), "big", signed=True)

    return xxh64_int64


def _blake2b_int64(text: str) -> int:
    """Signed 64-bit BLAKE2b hash of a string."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


@functools.cache
def _warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time it is seen."""
    logger.warning(message)
