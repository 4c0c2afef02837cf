"""ParallelSentencesDataset: the teacher's embeddings as targets, the same data and rounds as sentence-transformers'.

The teacher is a sentence-transformers SentenceTransformer built on the tiny BERT; the data are real parallel
sentences (XNLI English-German, gzipped, and Tatoeba German-English, plain).
"""

from __future__ import annotations

import gzip
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from embedforge.datasets import ParallelSentencesDataset
from embedforge.readers import InputExample


@pytest.fixture
def teacher(tiny_bert_path: Path) -> Any:
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(tiny_bert_path), device="cpu")


@pytest.fixture
def xnli_file(shared_data: Path, tmp_path: Path) -> str:
    """40 English<TAB>German rows of XNLI (gzip), and a 41st that repeats the first English with another German."""
    with gzip.open(shared_data / "parallel-xnli" / "en-de.tsv.gz", "rt", encoding="utf-8") as file:
        rows = [line.rstrip("\n").split("\t")[:2] for line in file.readlines()[1:41]]
    rows.append([rows[0][0], rows[1][1]])
    path = tmp_path / "en-de.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(f"{english}\t{german}\n" for english, german in rows)
    return str(path)


@pytest.fixture
def tatoeba_file(shared_data: Path, tmp_path: Path) -> Path:
    """30 English<TAB>German rows of Tatoeba (plain text)."""
    lines = (shared_data / "tatoeba" / "deu-eng.tsv").read_text(encoding="utf-8").splitlines()[1:31]
    path = tmp_path / "en-de.tsv"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def groups(dataset: Any) -> list[list[tuple[str, list[str]]]]:
    """Each dataset as (source, sorted sentences) pairs; ST keeps the sentences in a set."""
    return [[(source, sorted(sentences)) for source, sentences in data] for data in dataset.datasets]


def source_of(example: InputExample, sources: list[str], embeddings: np.ndarray) -> str:
    """The source sentence whose teacher embedding (a row of ``embeddings``) is the example's label."""
    matches = np.flatnonzero(np.abs(embeddings - example.label).max(axis=1) <= 1e-5)
    assert len(matches) == 1
    return sources[matches[0]]


def load_both(st_datasets: Any, teacher: Any, files: list[Any], **options: Any) -> tuple[Any, Any]:
    ours = ParallelSentencesDataset(teacher, teacher, batch_size=8)
    theirs = st_datasets.ParallelSentencesDataset(teacher, teacher, batch_size=8)
    for path in files:
        ours.load_data(path, **options)
        theirs.load_data(str(path), **options)
    return ours, theirs


def test_loaded_data_matches_st(st_datasets, teacher, xnli_file: str, tatoeba_file: Path) -> None:
    for options in ({}, {"max_sentences": 12, "max_sentence_length": 60}, {"weight": 7, "max_sentence_length": 0}):
        ours, theirs = load_both(st_datasets, teacher, [xnli_file, tatoeba_file], **options)
        assert groups(ours) == groups(theirs)
        assert len(ours) == len(theirs)
        assert ours.dataset_indices == theirs.dataset_indices
    assert len(ours.datasets[0]) == 40  # the repeated English source was merged
    assert len(ours.datasets[0][0][1]) == 3


def test_targets_are_teacher_embeddings_and_match_st(st_datasets, teacher, xnli_file: str, tatoeba_file: Path) -> None:
    ours, theirs = load_both(st_datasets, teacher, [xnli_file, tatoeba_file], weight=30)
    sources = [source for data in ours.datasets for source, _ in data]
    embeddings = teacher.encode(sources, convert_to_numpy=True)
    produced = []
    for dataset in (ours, theirs):
        random.seed(3)
        dataset.generate_data()
        produced.append(
            Counter((example.texts[0], source_of(example, sources, embeddings)) for example in dataset.cache)
        )
    assert produced[0] == produced[1]
    members = {source: set(sentences) for data in ours.datasets for source, sentences in data}
    assert all(text in members[source] for text, source in produced[0])
    assert all(isinstance(example.label, np.ndarray) and example.label.shape == (32,) for example in ours.cache)


def test_items_pop_the_cache_and_work_with_a_dataloader(teacher, tatoeba_file: Path) -> None:
    dataset = ParallelSentencesDataset(teacher, teacher, use_embedding_cache=False)
    dataset.load_data(tatoeba_file, weight=10)
    assert len(dataset) == 60  # 30 rows, two distinct sentences each
    random.seed(0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True, collate_fn=list)
    batches = list(loader)
    assert [len(batch) for batch in batches] == [16, 16, 16, 12]
    assert all(isinstance(example, InputExample) and len(example.texts) == 1 for batch in batches for example in batch)
    assert not dataset.embedding_cache


class CountingTeacher:
    """Any object with ``encode`` is a teacher: this one embeds a text as (length, word count) and logs calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def encode(
        self, sentences: list[str], /, *, batch_size: int, show_progress_bar: bool, convert_to_numpy: bool
    ) -> np.ndarray:
        self.calls.append(
            (
                list(sentences),
                {
                    "batch_size": batch_size,
                    "show_progress_bar": show_progress_bar,
                    "convert_to_numpy": convert_to_numpy,
                },
            )
        )
        return np.array([[len(text), len(text.split())] for text in sentences], dtype=np.float32)


def test_any_encoder_is_a_teacher_and_embeds_each_source_once() -> None:
    teacher = CountingTeacher()
    dataset = ParallelSentencesDataset(student_model=None, teacher_model=teacher, batch_size=4)
    dataset.add_dataset([["a b", "x"], ["c", "y"], ["a b", "z"]], weight=5)
    assert dataset.datasets == [[("a b", ["a b", "x", "z"]), ("c", ["c", "y"])]]
    random.seed(0)
    items = [dataset[i] for i in range(len(dataset) * 2)]
    assert len(teacher.calls) == 1  # the cache serves the second round
    sentences, kwargs = teacher.calls[0]
    assert sorted(sentences) == ["a b", "c"]  # each new source once, although the round repeats them
    assert kwargs == {"batch_size": 4, "show_progress_bar": False, "convert_to_numpy": True}
    assert {item.texts[0]: item.label.tolist() for item in items}["z"] == [3.0, 2.0]


def test_empty_dataset_is_not_added() -> None:
    dataset = ParallelSentencesDataset(None, CountingTeacher())
    dataset.add_dataset([["x" * 200, "y"]], max_sentence_length=128)
    assert (dataset.datasets, dataset.dataset_indices, len(dataset)) == ([], [], 0)
