"""ParallelSentencesDataset: translations paired with the teacher's embedding of the source sentence."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torch.utils.data import Dataset

from embedforge.readers.input_example import InputExample
from embedforge.readers.text_files import open_text

if TYPE_CHECKING:
    import numpy as np

    from embedforge.datasets.teacher import TeacherModel

logger = logging.getLogger(__name__)


def _too_long(sentences: list[str], max_sentence_length: int | None) -> bool:
    """Whether a sentence of the row has more than ``max_sentence_length`` characters (None or <= 0: no limit)."""
    if max_sentence_length is None or max_sentence_length <= 0:
        return False
    return max(map(len, sentences)) > max_sentence_length


class ParallelSentencesDataset(Dataset[InputExample]):
    """Parallel sentences for multilingual knowledge distillation (Reimers & Gurevych, 2020).

    Each row of a dataset holds one sentence and its translations, the source (e.g. English) first::

        hello world<TAB>hallo welt<TAB>hola mundo

    The teacher embeds the source sentence; every sentence of the row (source included) becomes an example
    ``InputExample(texts=[sentence], label=teacher_embedding)``, with ``teacher_embedding`` of shape ``(dim,)``, for
    an MSE loss that pulls the student's embedding of each translation onto the teacher's embedding.

    Items are produced in rounds: a round takes ``weight`` source sentences from each dataset in turn (cycling
    through a dataset and reshuffling it with Python's ``random`` when it is exhausted), embeds the new ones with
    the teacher in batches of ``batch_size``, and shuffles the resulting examples; ``__getitem__`` pops one of them
    and ignores its index, so the dataset is meant for a shuffled or sequential DataLoader, not random access.

    Args:
        student_model: The model being trained (kept for reference, not used here).
        teacher_model: Any model with a SentenceTransformer-like ``encode`` (see :class:`TeacherModel`).
        batch_size: The batch size for the teacher's ``encode`` calls.
        use_embedding_cache: Keep each source sentence's teacher embedding, so that it is computed once.
    """

    def __init__(
        self,
        student_model: Any,
        teacher_model: TeacherModel,
        batch_size: int = 8,
        use_embedding_cache: bool = True,
    ) -> None:
        self.student_model = student_model
        self.teacher_model = teacher_model
        self.datasets: list[list[tuple[str, list[str]]]] = []
        self.datasets_iterator: list[int] = []
        self.dataset_indices: list[int] = []
        self.cache: list[InputExample] = []
        self.batch_size = batch_size
        self.use_embedding_cache = use_embedding_cache
        self.embedding_cache: dict[str, np.ndarray] = {}
        self.num_sentences = 0

    def load_data(
        self,
        filepath: str | os.PathLike[str],
        weight: int = 100,
        max_sentences: int | None = None,
        max_sentence_length: int | None = 128,
    ) -> None:
        """Read a tab-separated file (``.gz`` allowed): a source sentence and its translations on each line.

        Args:
            filepath: The file.
            weight: How many source sentences of this dataset each round takes (its sampling frequency relative to
                the other loaded datasets).
            max_sentences: Read at most this many (kept) lines; None or <= 0 reads all.
            max_sentence_length: Skip a line if one of its sentences has more characters; None or <= 0: no limit.
        """
        logger.info("Loading %s", filepath)
        parallel_sentences: list[list[str]] = []
        with open_text(filepath) as file:
            for line in file:
                sentences = line.strip().split("\t")
                if _too_long(sentences, max_sentence_length):
                    continue
                parallel_sentences.append(sentences)
                if max_sentences is not None and 0 < max_sentences <= len(parallel_sentences):
                    break
        self.add_dataset(
            parallel_sentences, weight=weight, max_sentences=max_sentences, max_sentence_length=max_sentence_length
        )

    def add_dataset(
        self,
        parallel_sentences: list[list[str]],
        weight: int = 100,
        max_sentences: int | None = None,
        max_sentence_length: int | None = 128,
    ) -> None:
        """Add rows of parallel sentences (source first) as one more dataset.

        Rows with the same source sentence are merged; each distinct sentence of a group becomes one example per
        round. A dataset left empty by the filters is not added.

        Args:
            parallel_sentences: The rows: ``[source, translation, ...]``.
            weight: How many source sentences of this dataset each round takes.
            max_sentences: Keep at most this many distinct source sentences; None or <= 0 keeps all.
            max_sentence_length: Skip a row if one of its sentences has more characters; None or <= 0: no limit.
        """
        groups: dict[str, dict[str, None]] = {}  # source -> its distinct sentences, in first-seen order
        for sentences in parallel_sentences:
            if _too_long(sentences, max_sentence_length):
                continue
            groups.setdefault(sentences[0], {}).update(dict.fromkeys(sentences))
            if max_sentences is not None and 0 < max_sentences <= len(groups):
                break
        if not groups:
            return
        self.num_sentences += sum(len(targets) for targets in groups.values())
        dataset_id = len(self.datasets)
        self.datasets.append([(source, list(targets)) for source, targets in groups.items()])
        self.datasets_iterator.append(0)
        self.dataset_indices.extend([dataset_id] * weight)

    def generate_data(self) -> None:
        """Run one round: take the next source sentences, embed them, and add their shuffled examples to the cache."""
        sources: list[str] = []
        targets: list[list[str]] = []
        for data_idx in self.dataset_indices:
            source, sentences = self.next_entry(data_idx)
            sources.append(source)
            targets.append(sentences)
        embeddings = self.get_embeddings(sources)
        for embedding, sentences in zip(embeddings, targets, strict=True):
            self.cache.extend(InputExample(texts=[sentence], label=embedding) for sentence in sentences)
        random.shuffle(self.cache)

    def next_entry(self, data_idx: int) -> tuple[str, list[str]]:
        """Return the next ``(source, sentences)`` of dataset ``data_idx``, reshuffling it after its last entry."""
        dataset = self.datasets[data_idx]
        entry = dataset[self.datasets_iterator[data_idx]]
        self.datasets_iterator[data_idx] += 1
        if self.datasets_iterator[data_idx] >= len(dataset):
            self.datasets_iterator[data_idx] = 0
            random.shuffle(dataset)
        return entry

    def get_embeddings(self, sentences: list[str]) -> list[np.ndarray]:
        """Embed ``sentences`` with the teacher, through the cache when ``use_embedding_cache``.

        Returns:
            One embedding of shape ``(dim,)`` per sentence, in order.
        """
        if not self.use_embedding_cache:
            return list(self._encode(sentences))
        new_sentences = list(dict.fromkeys(sentence for sentence in sentences if sentence not in self.embedding_cache))
        if new_sentences:
            self.embedding_cache.update(zip(new_sentences, self._encode(new_sentences), strict=True))
        return [self.embedding_cache[sentence] for sentence in sentences]

    def _encode(self, sentences: list[str]) -> np.ndarray | Sequence[np.ndarray]:
        return self.teacher_model.encode(
            sentences, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
        )

    def __len__(self) -> int:
        return self.num_sentences

    def __getitem__(self, idx: int) -> InputExample:
        if not self.cache:
            self.generate_data()
        return self.cache.pop()
