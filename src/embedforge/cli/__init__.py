"""The ``embedforge`` command line: train, tune, validate, evaluate, encode, export, rank, info, env.

Each command lives in its own module of this package and exposes ``add_parser(subparsers)`` (registering its
arguments, help text and examples) and ``run(args) -> int``. Heavy imports (torch, transformers) happen inside
``run``, so ``embedforge --help`` and ``embedforge env`` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = ("train", "tune", "validate", "evaluate", "encode", "export", "rank", "info", "env")
"""Command names; each is the module ``embedforge.cli.<name>``."""
ALIASES = {"rerank": "rank"}
"""Other names of commands."""


def build_parser() -> argparse.ArgumentParser:
    """The ``embedforge`` parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="embedforge",
        description="Train, evaluate and use sentence-embedding models (sentence-transformers compatible).",
        epilog="Run `embedforge COMMAND --help` for a command's options and examples.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"embedforge.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Args:
        argv: Arguments after the program name.

    Returns:
        0 on success; non-zero on failure (2 for usage errors, as argparse).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # --help (0) and usage errors (2) end here
        return int(exit_.code or 0)
    module = importlib.import_module(f"embedforge.cli.{ALIASES.get(args.command, args.command)}")
    return int(module.run(args))
