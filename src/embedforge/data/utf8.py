"""Clear errors for data files that are not valid UTF-8: the file, the byte offset and line of the first bad byte.

Readers decode lazily and their errors say neither which file nor where (``datasets`` wraps them in a
``DatasetGenerationError``). Nothing is scanned on the happy path: only once a read failed is the file scanned, in
chunks, for its first invalid byte.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["InvalidUtf8Error", "Utf8Position", "find_invalid_utf8", "invalid_utf8_error", "reading_utf8"]

_CHUNK = 1 << 20
_MAX_SEQUENCE = 4
"""Longest UTF-8 sequence: a chunk may end inside one, which is then carried to the next chunk."""


@dataclass(frozen=True)
class Utf8Position:
    """Where the first invalid byte of a file is.

    Attributes:
        offset: 0-based byte offset (of the decompressed content for a ``.gz`` file).
        line: 1-based line number.
        byte: The invalid byte's value.
    """

    offset: int
    line: int
    byte: int


class InvalidUtf8Error(ValueError):
    """A data file is not valid UTF-8; the message names the file, the byte offset and line, and the fix.

    Attributes:
        path: The file.
        position: Where its first invalid byte is.
    """

    def __init__(self, path: Path, position: Utf8Position) -> None:
        self.path = path
        self.position = position
        compressed = " of the decompressed content" if path.suffix.lower() == ".gz" else ""
        super().__init__(
            f"{path} is not valid UTF-8: byte 0x{position.byte:02x} at byte offset {position.offset}{compressed} "
            f"(line {position.line}) cannot be decoded. Re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 "
            "IN > OUT` for a Latin-1 file, or choose 'UTF-8' when exporting from a spreadsheet."
        )


def find_invalid_utf8(path: str | Path) -> Utf8Position | None:
    """The position of the first byte of ``path`` that is not valid UTF-8, or None when the whole file decodes.

    A ``.gz`` file is decompressed on the fly. A file that ends inside a multi-byte sequence is invalid at the
    start of that sequence.
    """
    path = Path(path)
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    offset, line, carry = 0, 1, b""
    with opener(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            data = carry + chunk
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as error:
                at_end = error.end == len(data) and len(data) - error.start < _MAX_SEQUENCE
                if not at_end:
                    return Utf8Position(
                        offset + error.start, line + data.count(b"\n", 0, error.start), data[error.start]
                    )
                line += data.count(b"\n", 0, error.start)
                offset, carry = offset + error.start, data[error.start :]
                continue
            line += data.count(b"\n")
            offset, carry = offset + len(data), b""
    return Utf8Position(offset, line, carry[0]) if carry else None


def invalid_utf8_error(paths: Sequence[str | Path]) -> InvalidUtf8Error | None:
    """The error for the first of ``paths`` that is not valid UTF-8 (parquet files are skipped), or None."""
    for path in paths:
        if Path(path).suffix.lower() == ".parquet":
            continue
        position = find_invalid_utf8(path)
        if position is not None:
            return InvalidUtf8Error(Path(path), position)
    return None


@contextmanager
def reading_utf8(*paths: str | Path) -> Iterator[None]:
    """Turn a ``UnicodeDecodeError`` raised while reading ``paths`` into an :class:`InvalidUtf8Error`.

    Raises:
        InvalidUtf8Error: Naming the file, byte offset and line of the first invalid byte.
    """
    try:
        yield
    except UnicodeDecodeError as error:
        located = invalid_utf8_error(paths)
        if located is None:
            raise
        raise located from error
