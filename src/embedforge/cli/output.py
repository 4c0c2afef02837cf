"""How commands talk to the user: readable lines, ``--quiet``, or ``--json`` (one JSON object per line).

Every command prints through a :class:`Console` made from its parsed arguments (:func:`add_output_options`
registers ``--quiet`` and ``--json``). Readable mode prints messages and results to stdout and shows progress
bars on stderr; quiet mode prints only results and errors; JSON mode prints every event as one JSON object per
line on stdout (``{"event": "metrics", ...}``), for scripts, and shows no progress bars.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Console", "add_output_options"]


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--quiet`` and ``--json`` (mutually exclusive) to a command's parser."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print only results and errors; no progress bars")
    group.add_argument("--json", action="store_true", help="print one JSON object per line (for scripts)")


@dataclass
class Console:
    """Where a command's messages, results and errors go.

    Attributes:
        mode: ``"text"``, ``"quiet"`` or ``"json"``.
        out: Stream for messages and results (stdout).
        err: Stream for errors and progress bars (stderr).
    """

    mode: str = "text"
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Console:
        """The console for parsed arguments that went through :func:`add_output_options`."""
        mode = "json" if getattr(args, "json", False) else "quiet" if getattr(args, "quiet", False) else "text"
        return cls(mode=mode)

    @property
    def show_progress(self) -> bool:
        """Whether progress bars should be shown (text mode only)."""
        return self.mode == "text"

    def info(self, message: str, **data: Any) -> None:
        """A progress message: printed in text mode, an ``info`` event in JSON mode, nothing when quiet."""
        if self.mode == "text":
            print(message, file=self.out, flush=True)
        elif self.mode == "json":
            self.event("info", message=message, **data)

    def result(self, message: str, event: str = "result", **data: Any) -> None:
        """A result: printed in text and quiet mode; in JSON mode an ``event`` object with ``data``."""
        if self.mode == "json":
            self.event(event, message=message, **data)
        else:
            print(message, file=self.out, flush=True)

    def metrics(self, label: str, metrics: Mapping[str, float]) -> None:
        """A metrics dict under ``label`` (e.g. ``"before"``): one line per metric, or one ``metrics`` event."""
        if self.mode == "json":
            self.event("metrics", label=label, metrics=dict(metrics))
            return
        for key, value in metrics.items():
            print(
                f"{label:<8} {key}: {value:.4f}" if isinstance(value, float) else f"{label:<8} {key}: {value}",
                file=self.out,
                flush=True,
            )

    def error(self, message: str, **data: Any) -> None:
        """An error: on stderr in text/quiet mode, an ``error`` event on stdout in JSON mode."""
        if self.mode == "json":
            self.event("error", message=message, **data)
        else:
            print(f"error: {message}", file=self.err, flush=True)

    def event(self, event: str, **data: Any) -> None:
        """Print one JSON object ``{"event": event, **data}`` (non-finite floats become null)."""
        print(json.dumps({"event": event, **_jsonable(data)}, default=str), file=self.out, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
