"""The GPU suite's data: readers for its four sources, and the bundle that travels to the GPU machine.

The bundle has the layout of the shared data folder (``../shared/data``), so the suite reads either:

- ``flickr8k-captions/train_pairs.csv.gz``: caption pairs of one image (``anchor``, ``positive``); the bundle keeps
  the first ``--flickr-rows`` (default 30,000 of 60,000: a run draws at most about 12,000);
- ``stsb/train.csv`` (``sentence1``, ``sentence2``, ``score`` in 0..1) and ``stsb/test.csv`` (encode texts: both
  columns, 2,758 texts), gzipped in the bundle;
- ``scifact/corpus.jsonl.gz``: abstracts (``_id``, ``title``, ``text``; the bundle keeps the first
  ``--scifact-docs``, default 3,000 of 5,183). Training pairs are (title, abstract); encode texts are the abstracts.

Usage (``benchmarks/gpu_prepare.sh`` runs it)::

    python benchmarks/gpu_data.py SHARED_DATA_FOLDER output/gpu_data [--flickr-rows 30000] [--scifact-docs 3000]

which also writes ``models/minilm`` and ``models/bert-base`` (configs and tokenizer, no weights; see
``gpu_models.py``) and ``source.json`` (the repository's git commit, for the results' metadata).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from gpu_models import minilm_source, write_model_folder

FLICKR = Path("flickr8k-captions") / "train_pairs.csv.gz"
STSB_TRAIN = Path("stsb") / "train.csv"
STSB_TEST = Path("stsb") / "test.csv"
SCIFACT = Path("scifact") / "corpus.jsonl.gz"


def _open(data: Path, relative: Path) -> TextIO:
    """``data/relative``, or its gzipped copy ``data/relative.gz`` (text mode, UTF-8)."""
    path = data / relative
    if path.is_file():
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")
        return open(path, encoding="utf-8", newline="")
    zipped = path.with_name(path.name + ".gz")
    if zipped.is_file():
        return io.TextIOWrapper(gzip.open(zipped), encoding="utf-8", newline="")
    raise FileNotFoundError(f"{path} (or {zipped.name}) not found: pass --data, the shared data folder or the bundle.")


def flickr_pairs(data: Path) -> dict[str, list[Any]]:
    """Flickr8k caption pairs: ``anchor``, ``positive``."""
    with _open(data, FLICKR) as handle:
        rows = list(csv.DictReader(handle))
    return {"anchor": [row["anchor"] for row in rows], "positive": [row["positive"] for row in rows]}


def stsb_train(data: Path) -> dict[str, list[Any]]:
    """STSb train: ``sentence1``, ``sentence2``, ``score`` (5,749 rows)."""
    with _open(data, STSB_TRAIN) as handle:
        rows = list(csv.DictReader(handle))
    return {
        "sentence1": [row["sentence1"] for row in rows],
        "sentence2": [row["sentence2"] for row in rows],
        "score": [float(row["score"]) for row in rows],
    }


def scifact_documents(data: Path) -> list[dict[str, str]]:
    """SciFact abstracts with a non-empty title and text, in corpus order."""
    with _open(data, SCIFACT) as handle:
        documents = [json.loads(line) for line in handle if line.strip()]
    return [doc for doc in documents if doc.get("title", "").strip() and doc.get("text", "").strip()]


def scifact_pairs(data: Path) -> dict[str, list[Any]]:
    """SciFact (title, abstract) pairs: ``anchor`` = title, ``positive`` = abstract."""
    documents = scifact_documents(data)
    return {"anchor": [doc["title"] for doc in documents], "positive": [doc["text"] for doc in documents]}


def stsb_test_texts(data: Path) -> list[str]:
    """STSb test sentences, column ``sentence1`` then ``sentence2`` (2,758 texts)."""
    with _open(data, STSB_TEST) as handle:
        rows = list(csv.DictReader(handle))
    return [row["sentence1"] for row in rows] + [row["sentence2"] for row in rows]


def scifact_texts(data: Path) -> list[str]:
    """SciFact abstracts (the ``text`` field), in corpus order."""
    return [doc["text"] for doc in scifact_documents(data)]


TRAIN_DATA = {"flickr-pairs": flickr_pairs, "stsb-train": stsb_train, "scifact-pairs": scifact_pairs}
ENCODE_DATA = {"stsb-test": stsb_test_texts, "scifact-abstracts": scifact_texts}


def _copy_gzipped(source: Path, target: Path, keep_rows: int | None = None, header: bool = True) -> None:
    """Copy a CSV or JSON-lines file (gzipped or not) to ``target`` (gzipped), keeping the first ``keep_rows``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", encoding="utf-8", newline="") as reader:  # type: ignore[operator]
        text = reader.read()
    if keep_rows is not None and header:
        rows = list(csv.reader(io.StringIO(text)))[: keep_rows + 1]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
    elif keep_rows is not None:
        text = "".join(text.splitlines(keepends=True)[:keep_rows])
    with gzip.open(target, "wt", encoding="utf-8", newline="", compresslevel=9) as writer:
        writer.write(text)


def git_source(repo: Path) -> dict[str, Any]:
    """The repository's commit, and how many files differ from it (``git status --porcelain``)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "changed_files": None}
    return {"commit": commit, "changed_files": len(status.splitlines())}


def write_bundle(shared: Path, out: Path, flickr_rows: int, scifact_docs: int) -> None:
    """Write the data slices, the weight-less model folders and ``source.json`` under ``out``."""
    _copy_gzipped(shared / FLICKR, out / FLICKR, keep_rows=flickr_rows)
    for relative in (STSB_TRAIN, STSB_TEST):
        _copy_gzipped(shared / relative, out / relative.with_name(relative.name + ".gz"))
    _copy_gzipped(shared / SCIFACT, out / SCIFACT, keep_rows=scifact_docs, header=False)
    for name in ("minilm", "bert-base"):
        write_model_folder(minilm_source(), out / "models" / name, name)
    source = git_source(Path(__file__).resolve().parents[1])
    (out / "source.json").write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shared", type=Path, help="the shared data folder (../shared/data)")
    parser.add_argument("out", type=Path, help="bundle folder to write (e.g. output/gpu_data)")
    parser.add_argument("--flickr-rows", type=int, default=30_000, help="caption pairs to keep")
    parser.add_argument("--scifact-docs", type=int, default=3_000, help="SciFact abstracts to keep")
    args = parser.parse_args(argv)
    write_bundle(args.shared, args.out, args.flickr_rows, args.scifact_docs)
    counts = {name: len(next(iter(read(args.out).values()))) for name, read in TRAIN_DATA.items()}
    counts.update({name: len(read(args.out)) for name, read in ENCODE_DATA.items()})
    print(f"wrote {args.out}: rows {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
