"""Damage checks of the files in a checkpoint, one per file type: is the file complete and readable?

Each check takes a path and returns None for a sound file, or a short reason (``"cut short (1176 bytes expected,
600 found)"``). They read headers and directories, not whole payloads (except small torch archives' CRCs), so
checking a checkpoint costs milliseconds.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CRC_CHECK_MAX_BYTES", "FILE_CHECKS"]

CRC_CHECK_MAX_BYTES = 256 * 2**20
"""Torch archives up to this size have every record's CRC checked; larger ones only their directory."""


def _safetensors_problem(path: Path) -> str | None:
    """Whether the header parses and the tensors it describes end exactly where the file ends."""
    size = path.stat().st_size
    header, header_length, problem = _safetensors_header(path, size)
    if problem is not None:
        return problem
    offsets = [entry.get("data_offsets") for key, entry in header.items() if key != "__metadata__"]
    if not all(isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], int) for pair in offsets):
        return "unreadable header (tensor entries without data_offsets)"
    expected = 8 + header_length + max((pair[1] for pair in offsets), default=0)
    if expected != size:
        state = "cut short" if size < expected else "trailing bytes"
        return f"{state} ({expected} bytes expected, {size} found)"
    return None


def _safetensors_header(path: Path, size: int) -> tuple[dict[str, Any], int, str | None]:
    """The parsed header of a ``size``-byte safetensors file, its length, and what is wrong with it (or None)."""
    if size < 8:
        return {}, 0, f"cut short ({size} bytes, less than the 8-byte header length)"
    with open(path, "rb") as handle:
        header_length = int.from_bytes(handle.read(8), "little")
        if 8 + header_length > size:
            return {}, header_length, f"cut short (a {header_length}-byte header in a {size}-byte file)"
        try:
            header = json.loads(handle.read(header_length))
        except ValueError:
            return {}, header_length, "unreadable header (not JSON)"
    if not isinstance(header, dict) or not all(isinstance(entry, dict) for entry in header.values()):
        return {}, header_length, "unreadable header (not a JSON object of tensor entries)"
    return header, header_length, None


def _torch_archive_problem(path: Path) -> str | None:
    """Whether a ``torch.save`` archive has its zip directory and (up to a size) intact records."""
    try:
        with zipfile.ZipFile(path) as archive:
            if path.stat().st_size <= CRC_CHECK_MAX_BYTES:
                broken = archive.testzip()
                if broken is not None:
                    return f"corrupt (record {broken} fails its CRC check)"
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        return f"cut short or corrupt (not a readable torch archive: {error})"
    return None


def _json_problem(path: Path) -> str | None:
    try:
        json.loads(path.read_bytes())
    except ValueError as error:
        return f"cut short or corrupt (not valid JSON: {error})"
    return None


FILE_CHECKS: dict[str, Callable[[Path], str | None]] = {
    ".safetensors": _safetensors_problem,
    ".json": _json_problem,
    ".pt": _torch_archive_problem,
    ".pth": _torch_archive_problem,
    ".bin": _torch_archive_problem,
}
"""The damage check of each file type (by suffix); other files are only required to exist."""
