"""Opening plain or gzip-compressed UTF-8 text files, the one helper shared by the readers and datasets."""

from __future__ import annotations

import gzip
import os
from typing import TextIO


def open_text(path: str | os.PathLike[str]) -> TextIO:
    """Open ``path`` for reading UTF-8 text, through gzip when its name ends with ``.gz``.

    Args:
        path: The file to open.

    Returns:
        A text stream; close it (or use it in a ``with`` block) when done.
    """
    if os.fspath(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")
