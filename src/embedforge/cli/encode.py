"""``embedforge encode MODEL INPUT -o OUTPUT``: embed the texts of a file and save them as ``.npy`` or ``.parquet``.

Input formats (``.gz`` compressed too):

- ``.txt``: one text per line; blank lines are skipped.
- ``.csv`` / ``.tsv``: a header line; the texts are in ``--column`` (default: ``text`` if present, else the
  first column).
- ``.jsonl``: one JSON object per line; the texts are in ``--field`` (default: ``text``).

Output formats: ``.npy`` (the ``(n, dim)`` embedding matrix, one row per input text, in input order) and
``.parquet`` (columns ``text`` and ``embedding``, a fixed-size list per row).

The table reader :func:`read_table` is also used by ``embedforge evaluate`` for its CSV files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from embedforge.cli.output import Console, add_output_options
from embedforge.data.utf8 import reading_utf8

if TYPE_CHECKING:
    import numpy as np

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "Table", "add_parser", "read_table", "read_texts", "run"]

INPUT_FORMATS = (".txt", ".csv", ".tsv", ".jsonl")
"""Input extensions (each also with ``.gz``)."""

OUTPUT_FORMATS = (".npy", ".parquet")
"""Output extensions."""

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")

EXAMPLES = """examples:
  embedforge encode ./my-model sentences.txt -o embeddings.npy
  embedforge encode ./my-model docs.csv --column body -o docs.parquet --normalize
  embedforge encode ./my-model queries.jsonl --field question --prompt-name query -o queries.npy
  embedforge encode sentence-transformers/all-MiniLM-L6-v2 texts.txt -o emb.npy --precision int8 --truncate-dim 128
  embedforge encode ./my-model texts.txt -o emb.npy --backend onnx --file-name model_qint8_avx512_vnni.onnx
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``encode`` and its options."""
    parser = subparsers.add_parser(
        "encode",
        help="embed the texts of a .txt/.csv/.tsv/.jsonl file into .npy or .parquet",
        description="Embed every text of INPUT with MODEL and save the embeddings, in input order, to OUTPUT. "
        "INPUT: .txt (one text per line, blank lines skipped), .csv/.tsv (a header line; --column), .jsonl "
        "(--field); each may be .gz compressed. OUTPUT: .npy (the embedding matrix) or .parquet (text and "
        "embedding columns).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model folder or Hugging Face Hub id")
    parser.add_argument("input", metavar="INPUT", help="file of texts: .txt, .csv, .tsv or .jsonl (.gz allowed)")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="where to write: .npy or .parquet")
    parser.add_argument(
        "--column",
        "--field",
        dest="column",
        metavar="NAME",
        help="CSV/TSV column or JSONL field holding the texts (default: 'text'; for CSV/TSV "
        "without a 'text' column, the first column)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default: 32)")
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", help="text prepended to every input, e.g. 'query: '")
    prompt.add_argument("--prompt-name", help="name of one of the model's saved prompts, e.g. 'query'")
    parser.add_argument("--normalize", action="store_true", help="L2-normalize the embeddings")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="embedding precision (binary/ubinary pack 8 dimensions per byte; default: float32)",
    )
    parser.add_argument("--truncate-dim", type=int, metavar="DIM", help="keep the first DIM dimensions")
    parser.add_argument("--max-seq-length", type=int, metavar="TOKENS", help="truncate inputs to this many tokens")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps ... (default: the best available)")
    parser.add_argument(
        "--backend",
        choices=("torch", "onnx", "openvino"),
        default="torch",
        help="run the model with torch (default), ONNX Runtime or OpenVINO (exported on first use; see "
        "`embedforge export`)",
    )
    parser.add_argument(
        "--file-name",
        metavar="FILE",
        help="with --backend onnx/openvino: the exported file to run, e.g. model_qint8_avx512_vnni.onnx",
    )
    parser.add_argument("--trust-remote-code", action="store_true", help="allow code shipped with the model to run")
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Embed the input file and write the output file.

    Returns:
        0 on success, 1 when the input, output or model is unusable (the error says why), 2 for bad option values.
    """
    console = Console.from_args(args)
    for option in ("batch_size", "truncate_dim", "max_seq_length"):
        value = getattr(args, option)
        if value is not None and value < 1:
            console.error(f"--{option.replace('_', '-')} must be a positive integer, got {value}.")
            return 2
    output = Path(args.output)
    try:
        _check_extension(output, OUTPUT_FORMATS, "output", compressed=False)
        texts = read_texts(Path(args.input), args.column)
    except (OSError, ValueError) as error:
        console.error(str(error))
        return 1
    console.info(f"Read {len(texts)} texts from {args.input}.", count=len(texts))
    try:
        embeddings = _encode(args, texts, console)
    except (OSError, ValueError, KeyError, ImportError) as error:
        console.error(str(error))
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".npy":
        import numpy as np

        np.save(output, embeddings)
    else:
        _write_parquet(output, texts, embeddings)
    console.result(
        f"Wrote {embeddings.shape[0]} embeddings of shape {tuple(embeddings.shape[1:])} ({embeddings.dtype}) "
        f"to {output}.",
        event="encoded",
        path=str(output),
        count=int(embeddings.shape[0]),
        shape=list(embeddings.shape),
        dtype=str(embeddings.dtype),
    )
    return 0


def _encode(args: argparse.Namespace, texts: list[str], console: Console) -> np.ndarray:
    """Load the model and embed ``texts``: ``(n, dim)`` (``(n, ceil(dim / 8))`` for binary precisions)."""
    from embedforge import SentenceTransformer

    console.info(f"Loading model {args.model} ...")
    if args.file_name and args.backend == "torch":
        raise ValueError("--file-name picks an exported file; it needs --backend onnx or --backend openvino.")
    model = SentenceTransformer(
        args.model,
        device=args.device,
        trust_remote_code=args.trust_remote_code,
        backend=args.backend,
        model_kwargs={"file_name": args.file_name} if args.file_name else None,
    )
    if args.max_seq_length is not None:
        model.max_seq_length = args.max_seq_length
    if args.prompt_name is not None and args.prompt_name not in model.prompts:
        raise ValueError(
            f"--prompt-name {args.prompt_name!r} is not one of the model's prompts "
            f"{sorted(model.prompts)}. Use one of those, or pass the text itself with --prompt."
        )
    return model.encode(
        texts,
        prompt_name=args.prompt_name,
        prompt=args.prompt,
        batch_size=args.batch_size,
        show_progress_bar=console.show_progress,
        precision=args.precision,
        normalize_embeddings=args.normalize,
        truncate_dim=args.truncate_dim,
        convert_to_numpy=True,
    )


def _write_parquet(path: Path, texts: list[str], embeddings: np.ndarray) -> None:
    """Write columns ``text`` (string) and ``embedding`` (fixed-size list of the embeddings' dtype)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    width = int(embeddings.shape[1])
    values = pa.array(embeddings.reshape(-1))
    column = pa.FixedSizeListArray.from_arrays(values, width)
    pq.write_table(pa.table({"text": pa.array(texts, pa.string()), "embedding": column}), path)


# ------------------------------------------------------------------------------------------- reading inputs
@dataclass(frozen=True)
class Table:
    """Rows of a CSV/TSV/JSONL file.

    Attributes:
        path: The file read.
        columns: Column names (CSV/TSV header; for JSONL the keys of the first row).
        rows: One dict per row.
    """

    path: Path
    columns: list[str]
    rows: list[dict[str, Any]]

    def column(self, name: str, what: str = "column") -> list[Any]:
        """The values of column ``name``, or a ``ValueError`` naming the columns that exist.

        Args:
            name: Column (or JSONL field) name.
            what: How to call it in the error (``"column"`` or ``"field"``).
        """
        missing = [index for index, row in enumerate(self.rows) if name not in row]
        if name not in self.columns or missing:
            where = f" (row {missing[0] + 1} lacks it)" if name in self.columns else ""
            raise ValueError(
                f"{self.path}: no {what} {name!r}{where}; found {what}s {self.columns}. Pick one of "
                f"those, or rename the {what} in the file."
            )
        return [row[name] for row in self.rows]


def read_texts(path: Path, column: str | None = None) -> list[str]:
    """The texts of an input file (see the module docstring for the formats).

    Args:
        path: A ``.txt``, ``.csv``, ``.tsv`` or ``.jsonl`` file (optionally ``.gz``).
        column: CSV/TSV column or JSONL field; default ``text`` (CSV/TSV: else the first column).

    Returns:
        The texts in file order.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: For an unknown extension, a missing column, a non-string value or no texts at all.
    """
    _check_file(path, "input")
    suffix = _check_extension(path, INPUT_FORMATS, "input")
    if suffix == ".txt":
        with reading_utf8(path), _open(path) as handle:
            texts = [line.rstrip("\r\n") for line in handle]
        texts = [text for text in texts if text.strip()]
    else:
        table = read_table(path)
        what = "field" if suffix == ".jsonl" else "column"
        if column is None:
            column = _default_column(table, suffix)
        texts = table.column(column, what)
        _check_strings(path, column, texts)
    if not texts:
        raise ValueError(f"{path} holds no texts. Put one text per line (.txt) or one row per text (.csv/.jsonl).")
    return texts


def read_table(path: Path) -> Table:
    """Read a CSV (``,``), TSV (tab) or JSONL file, optionally ``.gz`` compressed, into a :class:`Table`.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: For another extension or a JSONL line that is not a JSON object.
        InvalidUtf8Error: For a file that is not valid UTF-8 (a ValueError naming the byte offset).
    """
    _check_file(path, "input")
    suffix = _check_extension(path, (".csv", ".tsv", ".jsonl"), "table")
    with reading_utf8(path), _open(path) as handle:
        if suffix == ".jsonl":
            rows = list(_jsonl_rows(path, handle))
            return Table(path, list(rows[0]) if rows else [], rows)
        reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
        rows = list(reader)
        return Table(path, list(reader.fieldnames or []), rows)


def _jsonl_rows(path: Path, handle: IO[str]) -> Iterator[dict[str, Any]]:
    for line_number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: line {line_number} is not valid JSON ({error}). Fix or remove it.") from error
        if not isinstance(row, dict):
            raise ValueError(
                f"{path}: line {line_number} is a JSON {type(row).__name__}, expected an object "
                'like {"text": "..."}. Write one object per line.'
            )
        yield row


def _check_strings(path: Path, column: str, values: list[Any]) -> None:
    bad = next(((index, value) for index, value in enumerate(values) if not isinstance(value, str)), None)
    if bad is not None:
        raise ValueError(
            f"{path}: row {bad[0] + 1} of {column!r} is {type(bad[1]).__name__} {bad[1]!r:.60}, "
            "expected a string. Fix or remove that row."
        )


def _check_extension(path: Path, allowed: tuple[str, ...], what: str, compressed: bool = True) -> str:
    """The format extension of ``path`` (``.gz`` stripped when ``compressed``), which must be in ``allowed``."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if compressed and suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in allowed:
        gz = " (optionally .gz compressed)" if compressed else ""
        raise ValueError(
            f"Unknown {what} file type {suffix or '(no extension)'!r} of {path}; expected one of "
            f"{', '.join(allowed)}{gz}. Rename the file or convert it."
        )
    return suffix


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        found = "a folder" if path.is_dir() else "nothing"
        raise FileNotFoundError(
            f"{what.capitalize()} file {path} does not exist (found {found} there). Check the path."
        )


def _default_column(table: Table, suffix: str) -> str:
    """``text``; for a CSV/TSV file without a ``text`` column, its first column."""
    if suffix == ".jsonl" or "text" in table.columns or not table.columns:
        return "text"
    return table.columns[0]


def _open(path: Path) -> IO[str]:
    """Open a text file for reading (use in a ``with``), decompressing ``.gz``."""
    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")  # -sig: a byte-order mark is dropped
