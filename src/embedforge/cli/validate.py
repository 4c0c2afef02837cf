"""``embedforge validate RECIPE.yaml [key=value ...]``: report every problem of a recipe at once, without training."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from embedforge.cli.output import Console, add_output_options

if TYPE_CHECKING:
    from embedforge.config.validate import ValidationReport

__all__ = ["add_parser", "add_recipe_arguments", "check_recipe", "run"]

EXAMPLES = """\
examples:
  embedforge validate recipes/stsb.yaml
  embedforge validate recipes/stsb.yaml training.per_device_train_batch_size=32 train_datasets.stsb.limit=100
  embedforge validate recipes/scifact_ir.yaml --no-model       # skip the tokenizer (no token-length check)
  embedforge validate recipes/stsb.yaml --json | jq .           # one JSON object per line

Checks the schema (unknown keys, types, overrides, ${VAR}), the model (package, folder, tokenizer), training
argument names and values, loss and evaluator names and arguments (with close matches), data files (present,
valid UTF-8) and columns, every dataset against its loss (text columns, empty or non-string texts, label dtype,
missing/NaN/inf labels with their row numbers), evaluator data, and prints a token-length histogram per text
column with the share of texts longer than the model's max_seq_length.
Exit status: 0 when the recipe is fine, 1 when anything is wrong (every problem is listed).
"""


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``RECIPE`` and ``key=value`` override arguments (shared with ``train``)."""
    parser.add_argument("recipe", metavar="RECIPE.yaml", help="the recipe file")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="override a recipe value, e.g. training.max_steps=10 (values are read as YAML)",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``validate``."""
    parser = subparsers.add_parser(
        "validate",
        help="check a training recipe and report every problem at once",
        description="Load a recipe's data and model metadata and report every problem at once, without training.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(parser)
    parser.add_argument(
        "--no-model", action="store_true", help="do not load the model's tokenizer (skips the token-length check)"
    )
    add_output_options(parser)


def check_recipe(
    recipe: str, overrides: Sequence[str], console: Console, *, check_model: bool = True
) -> ValidationReport:
    """Validate a recipe and print what was found: problems as errors, length histograms as messages.

    Args:
        recipe: The recipe file.
        overrides: ``key=value`` overrides.
        console: Where to print.
        check_model: Load the model's tokenizer for the token-length check.

    Returns:
        The report.
    """
    from embedforge.config.data import set_progress_bars
    from embedforge.config.validate import validate_recipe

    set_progress_bars(console.show_progress)
    console.info(f"validating {recipe}")
    report = validate_recipe(recipe, overrides, check_model=check_model, show_progress=console.show_progress)
    if report.lengths:
        console.info(
            "token lengths (special tokens included):\n" + report.format_lengths(), lengths=report.to_dict()["lengths"]
        )
    for problem in report.problems:
        console.error(problem)
    return report


def run(args: argparse.Namespace) -> int:
    """Validate the recipe; 0 when it is fine, 1 otherwise."""
    console = Console.from_args(args)
    report = check_recipe(args.recipe, args.overrides, console, check_model=not args.no_model)
    summary = report.to_dict()
    if report.ok:
        sizes = ", ".join(f"{name}: {rows} rows" for name, rows in summary["datasets"].items())
        console.result(f"{args.recipe}: OK ({sizes})", event="validation", **summary)
        return 0
    console.result(f"{args.recipe}: {len(report.problems)} problem(s) found", event="validation", **summary)
    return 1
