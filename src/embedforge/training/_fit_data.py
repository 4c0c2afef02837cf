"""Turn the legacy ``fit`` objectives (DataLoaders of InputExamples, losses) into datasets, losses and options."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn
from torch.utils.data import BatchSampler, DataLoader

from embedforge.datasets.no_duplicates_dataloader import NoDuplicatesDataLoader
from embedforge.losses.contrastive_tension_data_loader import ContrastiveTensionDataLoader
from embedforge.training.arguments import BatchSamplers

if TYPE_CHECKING:
    from datasets import Dataset

    from embedforge.readers.input_example import InputExample

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8
"""Batch size used when no objective's loader tells its own (as sentence-transformers)."""

LegacyLoader = DataLoader | NoDuplicatesDataLoader | ContrastiveTensionDataLoader


@dataclass(frozen=True)
class LegacyTrainingData:
    """What the legacy objectives become for :class:`~embedforge.SentenceTransformerTrainer`.

    Attributes:
        datasets: ``{"_dataset_1": Dataset, ...}``, one per objective, with columns ``sentence_0..n`` and, unless
            every label is 0 (the InputExample default), ``label``.
        losses: ``{"_dataset_1": loss, ...}``, with the same names.
        batch_size: The batch size of the last objective's loader (sentence-transformers uses one for all).
        batch_sampler: ``NO_DUPLICATES`` if a loader is a NoDuplicatesDataLoader, ``GROUP_BY_LABEL`` if a loader
            reads a SentenceLabelDataset (the last such loader decides), else ``BATCH_SAMPLER``.
    """

    datasets: dict[str, Dataset]
    losses: dict[str, nn.Module]
    batch_size: int
    batch_sampler: BatchSamplers


def convert_objectives(train_objectives: Iterable[tuple[LegacyLoader, nn.Module]]) -> LegacyTrainingData:
    """Read every objective's loader once and build the trainer's datasets, losses and batch options.

    Each loader is iterated one full pass (so a shuffling loader fixes its order here, and a NoDuplicatesDataLoader
    yields ``len(loader) * batch_size`` examples); its ``collate_fn`` is restored afterwards.

    Args:
        train_objectives: ``(loader, loss)`` pairs; a loader yields batches of :class:`InputExample`.

    Returns:
        The datasets and losses named ``_dataset_1``, ``_dataset_2``… and the batch size and sampler.

    Raises:
        ValueError: If there is no objective.
        TypeError: If a loader is neither a torch DataLoader nor a NoDuplicatesDataLoader.
    """
    objectives = list(train_objectives)
    if not objectives:
        raise ValueError("fit() needs at least one (DataLoader, loss) pair in train_objectives; got none.")
    datasets: dict[str, Dataset] = {}
    losses: dict[str, nn.Module] = {}
    batch_size, sampler = DEFAULT_BATCH_SIZE, BatchSamplers.BATCH_SAMPLER
    for index, (loader, loss) in enumerate(objectives, start=1):
        name = f"_dataset_{index}"
        examples = read_examples(loader)
        sampler = batch_sampler_of(loader, sampler)
        batch_size = batch_size_of(loader, batch_size, index)
        datasets[name] = examples_to_dataset(examples)
        losses[name] = loss
    return LegacyTrainingData(datasets, losses, batch_size, sampler)


def read_examples(loader: LegacyLoader) -> list[InputExample]:
    """All examples of one pass over ``loader``, as the raw InputExamples (its ``collate_fn`` is bypassed).

    Args:
        loader: A torch DataLoader over InputExamples, or a NoDuplicatesDataLoader.

    Returns:
        The examples in the order the loader yields them.

    Raises:
        TypeError: If ``loader`` is of another type.
    """
    if not isinstance(loader, (DataLoader, NoDuplicatesDataLoader, ContrastiveTensionDataLoader)):
        raise TypeError(
            f"fit() reads each objective's examples from a torch DataLoader, a NoDuplicatesDataLoader or a "
            f"ContrastiveTensionDataLoader, got "
            f"{type(loader).__name__}. Wrap the InputExamples in torch.utils.data.DataLoader(examples, "
            "batch_size=..., shuffle=True), or train with SentenceTransformerTrainer and a datasets.Dataset."
        )
    original = loader.collate_fn
    loader.collate_fn = _as_list
    try:
        return [example for batch in loader for example in batch]
    finally:
        loader.collate_fn = original


def examples_to_dataset(examples: Sequence[InputExample]) -> Dataset:
    """A Dataset with one ``sentence_{i}`` column per text position, plus ``label`` unless all labels are 0.

    Labels keep their type: ints give an int64 column, floats a float64 one, arrays a list column. Examples with
    more texts than others are cut to the shortest (as sentence-transformers does).

    Args:
        examples: The examples.

    Returns:
        The dataset, one row per example.
    """
    from datasets import Dataset

    columns = zip(*(example.texts or [] for example in examples), strict=False)
    dataset = Dataset.from_dict({f"sentence_{index}": list(texts) for index, texts in enumerate(columns)})
    labels = [example.label for example in examples]
    if labels and not all(_is_default_label(label) for label in labels):
        dataset = dataset.add_column("label", labels)
    return dataset


def _is_default_label(label: Any) -> bool:
    """Whether ``label`` is the InputExample default 0 (a number equal to 0; arrays never are)."""
    return isinstance(label, numbers.Number) and label == 0


def _as_list(batch: list[InputExample]) -> list[InputExample]:
    """Collate function returning the examples themselves (module level, so worker processes can pickle it)."""
    return batch


def batch_sampler_of(loader: LegacyLoader, current: BatchSamplers) -> BatchSamplers:
    from embedforge.datasets.sentence_label import SentenceLabelDataset

    if isinstance(loader, NoDuplicatesDataLoader):
        return BatchSamplers.NO_DUPLICATES
    if isinstance(loader, DataLoader) and isinstance(loader.dataset, SentenceLabelDataset):
        return BatchSamplers.GROUP_BY_LABEL
    return current


def batch_size_of(loader: LegacyLoader, current: int, index: int) -> int:
    if not isinstance(loader, DataLoader) or loader.batch_size is not None:
        return int(loader.batch_size)
    # torch sets DataLoader.batch_size to None when a custom batch_sampler is given.
    sampler_size = loader.batch_sampler.batch_size if isinstance(loader.batch_sampler, BatchSampler) else None
    logger.warning(
        "The DataLoader of training objective %d uses a custom batch_sampler; fit() keeps only its batch size "
        "(%s), not its grouping. Use SentenceTransformerTrainer with a batch_sampler for custom batches.",
        index,
        sampler_size or current,
    )
    return int(sampler_size or current)
