"""Load the data a :class:`~embedforge.config.recipe.DatasetSpec` describes, as a ``datasets.Dataset``.

Sources: local ``.csv``/``.tsv``/``.json``/``.jsonl``/``.parquet`` files (optionally gzipped), a folder of them
(its ``<split>.<ext>`` file, else every data file), a BEIR folder's ``qrels/<split>.tsv`` turned into
``(query, positive)`` text pairs (``format: beir_pairs``), or a Hugging Face Hub dataset id. Then the spec's
``where``, ``rename``, ``columns`` and ``limit`` are applied, in that order.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.config.recipe import DatasetSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["FORMATS", "DataError", "load_data", "looks_like_hub_id", "resolve_format", "set_progress_bars"]

FORMATS = ("csv", "tsv", "json", "parquet", "beir_pairs", "hub")
"""Values of ``DatasetSpec.format``."""
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_HUB_ID = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def looks_like_hub_id(path: str) -> bool:
    """True for ``owner/name`` strings (a Hugging Face Hub id), as opposed to other relative or absolute paths."""
    return bool(_HUB_ID.fullmatch(path)) and not path.startswith(".")


class DataError(ValueError):
    """A dataset that cannot be loaded as specified (missing file, unknown column or format)."""


def set_progress_bars(enabled: bool) -> None:
    """Show or hide the progress bars of ``datasets`` (loading, filtering) and of model weight loading."""
    import datasets
    from transformers.utils import logging as hf_logging

    if enabled:
        datasets.enable_progress_bars()
        hf_logging.enable_progress_bar()
    else:
        datasets.disable_progress_bars()
        hf_logging.disable_progress_bar()


def load_data(spec: DatasetSpec, where: str = "dataset") -> Dataset:
    """Load and shape one dataset.

    Args:
        spec: What to load and how to shape it.
        where: The dataset's place in the recipe (``train_datasets.stsb``), for messages.

    Returns:
        The dataset, with the spec's row filter, renames, column selection/order and row limit applied.

    Raises:
        DataError: For a missing file or folder, an unknown format, a file that is not valid UTF-8 (naming the
            byte offset), or columns that are not there (the message says which columns there are).
        FileNotFoundError: For a BEIR folder missing one of its files.
    """
    fmt = resolve_format(spec, where)
    if fmt == "hub":
        from datasets import load_dataset

        dataset = load_dataset(spec.path, spec.subset, split=spec.split)
    elif fmt == "beir_pairs":
        dataset = _beir_pairs(Path(spec.path), spec.split)
    else:
        dataset = _load_files(_data_files(Path(spec.path), spec.split, where), fmt, where)
    return shape(dataset, spec, where)


def resolve_format(spec: DatasetSpec, where: str = "dataset") -> str:
    """The spec's format: given, or from the file extension; a missing ``owner/name`` path is a Hub id.

    Raises:
        DataError: For an unknown format, a missing local path, or a file of unknown type.
    """
    if spec.format is not None:
        if spec.format not in FORMATS:
            raise DataError(f"{where}: unknown format {spec.format!r}; known formats: {list(FORMATS)}")
        if spec.format != "hub" and not Path(spec.path).exists():
            raise DataError(f"{where}: {spec.path!r} does not exist (format {spec.format!r} reads local files)")
        return spec.format
    path = Path(spec.path)
    if not spec.path:
        raise DataError(f"{where}: no 'path' given; set a file, a folder or a Hub dataset id")
    if path.is_dir():
        return _suffix_format(_data_files(path, spec.split, where)[0], where)
    if path.is_file():
        return _suffix_format(path, where)
    if looks_like_hub_id(spec.path) and _suffix(path) not in _SUFFIXES:
        return "hub"
    raise DataError(
        f"{where}: data file {spec.path!r} does not exist (resolved from the working directory "
        f"{str(Path.cwd())!r}); fix the path or set EMBEDFORGE_DATA"
    )


def _suffix(path: Path) -> str:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _suffix_format(path: Path, where: str) -> str:
    fmt = _SUFFIXES.get(_suffix(path))
    if fmt is None:
        raise DataError(
            f"{where}: cannot tell the format of {str(path)!r}; use one of {sorted(_SUFFIXES)} "
            "(optionally .gz) or set 'format'"
        )
    return fmt


def _data_files(path: Path, split: str, where: str) -> list[Path]:
    """``[path]`` for a file; for a folder its ``<split>.<ext>`` file, else all its data files."""
    if not path.is_dir():
        return [path]
    files = sorted(item for item in path.iterdir() if item.is_file() and _suffix(item) in _SUFFIXES)
    chosen = [item for item in files if item.name.split(".")[0] == split]
    if chosen or files:
        return chosen[:1] or files
    raise DataError(f"{where}: folder {str(path)!r} holds no data files ({sorted(_SUFFIXES)}, optionally .gz)")


def _load_files(files: list[Path], fmt: str, where: str) -> Dataset:
    """Load local files with ``datasets``; a file that is not valid UTF-8 is a :class:`DataError` naming it.

    Raises:
        DataError: For a file that is not valid UTF-8 (with the byte offset and line of the first bad byte).
    """
    import pyarrow as pa
    from datasets import load_dataset
    from datasets.exceptions import DatasetGenerationError

    from embedforge.data.utf8 import invalid_utf8_error

    builder = {"tsv": "csv", "json": "json", "csv": "csv", "parquet": "parquet"}[fmt]
    kwargs: dict[str, Any] = {"sep": "\t", "quoting": csv.QUOTE_NONE} if fmt == "tsv" else {}
    try:
        dataset = load_dataset(builder, data_files=[str(file) for file in files], split="train", **kwargs)
        if fmt == "json":  # pyarrow's JSON reader keeps invalid UTF-8 in strings: a full validation finds it
            dataset.data.validate(full=True)
        return dataset
    except (DatasetGenerationError, UnicodeDecodeError, pa.ArrowInvalid) as error:
        not_utf8 = invalid_utf8_error(files) if fmt != "parquet" else None
        if not_utf8 is None:
            raise
        raise DataError(f"{where}: {not_utf8}") from error


def _beir_pairs(folder: Path, split: str) -> Dataset:
    """One ``(query, positive)`` row per relevant (query, document) pair of ``qrels/<split>.tsv``."""
    from datasets import Dataset

    from embedforge.evaluation.beir import load_beir

    data = load_beir(folder, split=split)
    queries, positives = [], []
    for query_id, doc_ids in data.relevant_docs.items():
        for doc_id in sorted(doc_ids):
            queries.append(data.queries[query_id])
            positives.append(data.corpus[doc_id])
    return Dataset.from_dict({"query": queries, "positive": positives})


def shape(dataset: Dataset, spec: DatasetSpec, where: str = "dataset") -> Dataset:
    """Apply ``where``, ``rename``, ``columns`` and ``limit`` of ``spec`` to ``dataset``.

    Raises:
        DataError: Naming the columns that are missing and the ones there are.
    """
    if spec.where:
        _require(dataset.column_names, list(spec.where), f"{where}.where")
        conditions = dict(spec.where)
        dataset = dataset.filter(lambda row: all(row[key] == value for key, value in conditions.items()))
    if spec.rename:
        _require(dataset.column_names, list(spec.rename), f"{where}.rename")
        dataset = dataset.rename_columns(dict(spec.rename))
    if spec.columns:
        _require(dataset.column_names, spec.columns, f"{where}.columns")
        dataset = dataset.select_columns(list(spec.columns))
    if spec.limit is not None:
        dataset = dataset.select(range(min(spec.limit, len(dataset))))
    return dataset


def _require(available: list[str], wanted: list[str], where: str) -> None:
    missing = [column for column in wanted if column not in available]
    if missing:
        raise DataError(f"{where}: column(s) {missing} not in the data; its columns are {available}")
