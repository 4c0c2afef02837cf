"""Retrieval data for the IR evaluators: loading a local BEIR folder, and checking query / corpus / qrels dicts.

A BEIR folder holds::

    corpus.jsonl (or corpus.jsonl.gz)   one {"_id": ..., "title": ..., "text": ...} per line ("title" optional)
    queries.jsonl (or queries.jsonl.gz) one {"_id": ..., "text": ...} per line
    qrels/<split>.tsv                   tab separated, header "query-id  corpus-id  score"

Document text is ``(title + " " + text).strip()``, as BEIR and MTEB feed it to embedding models. Qrels rows with a
score of 0 or less are not relevant (as in BEIR's evaluation); a missing ``score`` column means every row is.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedforge.data.utf8 import reading_utf8

__all__ = [
    "RetrievalData",
    "check_ids_match",
    "check_relevant_docs",
    "check_text_mapping",
    "load_beir",
    "load_hub_subset",
]

logger = logging.getLogger(__name__)

_LAYOUT = "corpus.jsonl(.gz), queries.jsonl(.gz) and qrels/<split>.tsv"


@dataclass(frozen=True)
class RetrievalData:
    """Queries, corpus and relevance judgments of a retrieval dataset, as the IR evaluators take them.

    Attributes:
        queries: Query id to text.
        corpus: Document id to text.
        relevant_docs: Query id to the ids of its relevant documents.
    """

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant_docs: dict[str, set[str]]


def load_beir(folder: str | Path, split: str = "test") -> RetrievalData:
    """Read a BEIR-layout folder.

    Args:
        folder: Folder holding ``corpus.jsonl(.gz)``, ``queries.jsonl(.gz)`` and ``qrels/<split>.tsv``.
        split: Qrels file to read (``qrels/<split>.tsv``).

    Returns:
        The queries (all of ``queries.jsonl``), the corpus (title and text joined) and the relevant documents.

    Raises:
        FileNotFoundError: If the folder or one of its files is missing (the message names it).
        ValueError: For a malformed line, a missing field, or qrels ids absent from the corpus or queries file.

    Example:
        >>> data = load_beir("../shared/data/scifact")  # doctest: +SKIP
        >>> len(data.corpus), len(data.relevant_docs)  # doctest: +SKIP
        (5183, 300)
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"BEIR folder {str(root)!r} does not exist. Pass a folder that holds {_LAYOUT}.")
    corpus_path = _find(root, "corpus.jsonl")
    queries_path = _find(root, "queries.jsonl")
    corpus = {
        doc_id: (str(row.get("title") or "") + " " + str(row["text"])).strip()
        for doc_id, row in _read_jsonl(corpus_path)
    }
    queries = {query_id: str(row["text"]) for query_id, row in _read_jsonl(queries_path)}
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(path.stem for path in (root / "qrels").glob("*.tsv"))
        raise FileNotFoundError(
            f"BEIR folder {str(root)!r} has no qrels file {str(qrels_path)!r} (qrels splits found: {found}). "
            f"Pass one of those as `split`, or add qrels/{split}.tsv with header 'query-id\\tcorpus-id\\tscore'."
        )
    relevant_docs = _read_qrels(qrels_path)
    _check_known_ids(qrels_path, "query", {qid for qid in relevant_docs}, queries, queries_path)
    _check_known_ids(qrels_path, "corpus", set().union(*relevant_docs.values()), corpus, corpus_path)
    return RetrievalData(queries=queries, corpus=corpus, relevant_docs=relevant_docs)


def _find(root: Path, name: str) -> Path:
    """``root / name``, or its ``.gz`` variant."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"BEIR folder {str(root)!r} has neither {name} nor {name}.gz. Add the file (one JSON object per line with "
        f"'_id' and 'text'); a BEIR folder holds {_LAYOUT}."
    )


def _read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(str(_id), row)`` per line, checking that each line is a JSON object with ``_id`` and ``text``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with reading_utf8(path), opener(path, "rt", encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                message = f"{path}: line {line_number} is not valid JSON ({error}). Fix or remove that line."
                raise ValueError(message) from error
            missing = [key for key in ("_id", "text") if not isinstance(row, dict) or key not in row]
            if missing:
                found = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise ValueError(
                    f"{path}: line {line_number} has no {missing} field (found {found}). Each line must be a JSON "
                    "object with '_id' and 'text' (corpus lines may add 'title')."
                )
            yield str(row["_id"]), row


def _read_qrels(path: Path) -> dict[str, set[str]]:
    """Query id to the corpus ids with a positive score (all rows when there is no ``score`` column)."""
    with reading_utf8(path), open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    header = lines[0] if lines else []
    if "query-id" not in header or "corpus-id" not in header:
        raise ValueError(
            f"{path}: the first line must be the tab-separated header 'query-id\\tcorpus-id\\tscore', found "
            f"{header}. Add that header line."
        )
    query_col, corpus_col = header.index("query-id"), header.index("corpus-id")
    score_col = header.index("score") if "score" in header else None
    relevant: dict[str, set[str]] = {}
    for line_number, fields in enumerate(lines[1:], start=2):
        if len(fields) != len(header):
            raise ValueError(
                f"{path}: line {line_number} has {len(fields)} fields, the header {len(header)}. "
                "Separate the fields with single tabs."
            )
        try:
            positive = score_col is None or float(fields[score_col]) > 0
        except ValueError as error:
            raise ValueError(
                f"{path}: line {line_number} has a non-numeric score {fields[score_col]!r}. "
                "Use numbers (e.g. 1 for relevant)."
            ) from error
        if positive:
            relevant.setdefault(fields[query_col], set()).add(fields[corpus_col])
    return relevant


def _check_known_ids(qrels_path: Path, kind: str, ids: set[str], known: Mapping[str, str], source: Path) -> None:
    """Raise a ``ValueError`` naming the qrels ids that the queries / corpus file lacks."""
    unknown = sorted(ids - set(known))
    if unknown:
        raise ValueError(
            f"{qrels_path}: {len(unknown)} {kind} id(s) are not in {source.name}: {unknown[:10]}"
            f"{' ...' if len(unknown) > 10 else ''}. Add them to {source} or remove their rows from {qrels_path.name}."
        )


def check_text_mapping(owner: str, argument: str, mapping: Mapping[str, str]) -> dict[str, str]:
    """A non-empty dict from id to text, or a ``ValueError`` naming the argument, the bad entry and the fix.

    Args:
        owner: Evaluator class name, for the error message.
        argument: Argument name (``"queries"`` or ``"corpus"``).
        mapping: Id to text.

    Returns:
        The mapping as a dict.
    """
    if not isinstance(mapping, Mapping):
        raise ValueError(
            f"{owner}: `{argument}` must be a dict from id to text, found {type(mapping).__name__}. "
            f"Pass e.g. {{'id1': 'text'}} (dict(zip(ids, texts)) builds one)."
        )
    if not mapping:
        raise ValueError(f"{owner}: `{argument}` must hold at least one entry, found an empty dict. Pass the texts.")
    bad = next(((key, text) for key, text in mapping.items() if not isinstance(text, str)), None)
    if bad is not None:
        raise ValueError(
            f"{owner}: `{argument}` must map ids to strings, found {type(bad[1]).__name__} {bad[1]!r} "
            f"for id {bad[0]!r}. Convert or drop that entry."
        )
    return dict(mapping)


def check_relevant_docs(owner: str, relevant_docs: Mapping[str, Collection[str]]) -> dict[str, set[str]]:
    """Query id to a set of document ids, or a ``ValueError`` naming the bad entry and the fix.

    Args:
        owner: Evaluator class name, for the error message.
        relevant_docs: Query id to relevant document ids (a set, list or tuple each).

    Returns:
        The relevant documents as sets.
    """
    if not isinstance(relevant_docs, Mapping) or not relevant_docs:
        raise ValueError(
            f"{owner}: `relevant_docs` must be a non-empty dict from query id to a set of document ids, "
            f"found {relevant_docs!r:.80}. Pass e.g. {{'q1': {{'d1', 'd7'}}}}."
        )
    bad = next(
        (
            (key, ids)
            for key, ids in relevant_docs.items()
            if isinstance(ids, (str, bytes)) or not isinstance(ids, Collection)
        ),
        None,
    )
    if bad is not None:
        raise ValueError(
            f"{owner}: `relevant_docs` must map each query id to a set of document ids, found "
            f"{bad[1]!r:.80} for query {bad[0]!r}. Wrap single ids in a set: {{{bad[1]!r:.40}}}."
        )
    return {key: set(ids) for key, ids in relevant_docs.items()}


def check_ids_match(
    owner: str,
    query_ids: Sequence[str],
    evaluated_ids: Sequence[str],
    relevant_docs: Mapping[str, set[str]],
    corpus: Mapping[str, str],
) -> None:
    """Fail when no query has judgments or no judged document is in the corpus; warn when some are missing.

    Args:
        owner: Evaluator class name, for messages.
        query_ids: All ids of ``queries``.
        evaluated_ids: The query ids with at least one relevant document.
        relevant_docs: Query id to relevant document ids.
        corpus: Document id to text.

    Raises:
        ValueError: If the ids of ``queries`` and ``relevant_docs``, or of ``relevant_docs`` and ``corpus``, do
            not overlap at all (typically ids of different types, e.g. int keys against str ids).
    """
    if not evaluated_ids:
        raise ValueError(
            f"{owner}: none of the {len(query_ids)} ids of `queries` (e.g. {list(query_ids)[:3]}) has relevant "
            f"documents in `relevant_docs` (keys e.g. {list(relevant_docs)[:3]}). Use the same ids, of the same "
            "type, in both."
        )
    judged = set().union(*(relevant_docs[qid] for qid in evaluated_ids))
    missing = sorted(judged - set(corpus), key=str)
    if len(missing) == len(judged):
        raise ValueError(
            f"{owner}: none of the {len(judged)} relevant document ids in `relevant_docs` (e.g. {missing[:3]}) is a "
            f"key of `corpus` (e.g. {list(corpus)[:3]}). Use the same ids, of the same type, in both."
        )
    if missing:
        logger.warning(
            "%s: %d relevant document id(s) are not in `corpus` and can never be retrieved: %s%s. Add those "
            "documents to the corpus if they should count.",
            owner,
            len(missing),
            missing[:10],
            " ..." if len(missing) > 10 else "",
        )


def load_hub_subset(
    owner: str, dataset_id: str, subset: str, split: str, required_columns: Sequence[str], local_hint: str
) -> Any:
    """``datasets.load_dataset(dataset_id, subset, split=split)``, with clear errors and a column check.

    Args:
        owner: The evaluator's class name, for the messages.
        dataset_id: The Hub dataset (e.g. ``sentence-transformers/NanoBEIR-en``).
        subset: Its configuration (``corpus``, ``queries``, ``qrels``, ``bm25``…).
        split: The split to load.
        required_columns: Columns the subset must have.
        local_hint: What to do offline instead, e.g. ``"evaluate local BEIR folders"``.

    Raises:
        ImportError: Without the ``datasets`` package.
        ValueError: When the Hub cannot serve the subset, or it lacks a required column.
    """
    try:
        from datasets import load_dataset
    except ImportError as error:
        raise ImportError(
            f"{owner} needs the `datasets` package to load {dataset_id!r} from the Hub: `pip install datasets`. "
            f"Or {local_hint} with dataset_paths={{name: folder}}."
        ) from error
    try:
        dataset = load_dataset(dataset_id, subset, split=split)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{owner}: could not load subset {subset!r} split {split!r} of {dataset_id!r} ({error}). Check the "
            f"dataset id and the network, or {local_hint} with dataset_paths={{name: folder}}."
        ) from error
    missing = sorted(set(required_columns) - set(dataset.column_names))
    if missing:
        raise ValueError(
            f"{owner}: subset {subset!r} split {split!r} of {dataset_id!r} lacks the columns {missing} (found "
            f"{dataset.column_names}). Use a dataset in the NanoBEIR layout."
        )
    return dataset
