"""Legacy datasets and data loader for the old ``model.fit``-style training, as in ``sentence_transformers.datasets``.

New code should use the trainer with ``datasets.Dataset`` (and ``batch_sampler="no_duplicates"`` or
``"group_by_label"``); these classes exist so that ST v2-era scripts keep working after a search-and-replace of the
package name. Names are imported lazily: ``NoDuplicatesDataLoader`` needs no torch, the torch datasets do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "DenoisingAutoEncoderDataset": "embedforge.datasets.denoising_auto_encoder",
    "NoDuplicatesDataLoader": "embedforge.datasets.no_duplicates_dataloader",
    "ParallelSentencesDataset": "embedforge.datasets.parallel_sentences",
    "SentenceLabelDataset": "embedforge.datasets.sentence_label",
    "SentencesDataset": "embedforge.datasets.sentences",
    "TeacherModel": "embedforge.datasets.teacher",
}

__all__ = [
    "DenoisingAutoEncoderDataset",
    "NoDuplicatesDataLoader",
    "ParallelSentencesDataset",
    "SentenceLabelDataset",
    "SentencesDataset",
    "TeacherModel",
]

if TYPE_CHECKING:
    from embedforge.datasets.denoising_auto_encoder import DenoisingAutoEncoderDataset
    from embedforge.datasets.no_duplicates_dataloader import NoDuplicatesDataLoader
    from embedforge.datasets.parallel_sentences import ParallelSentencesDataset
    from embedforge.datasets.sentence_label import SentenceLabelDataset
    from embedforge.datasets.sentences import SentencesDataset
    from embedforge.datasets.teacher import TeacherModel


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'embedforge.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
