"""The one place where evaluators write result files and log their runs.

Evaluators compute metrics; this module turns them into CSV rows (``<output_path>/<csv_file>``, one row per
evaluation, the header written with the first row) and log lines, in the formats sentence-transformers uses.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["log_metrics", "log_start", "name_suffix", "prefixed", "run_description", "write_csv"]

logger = logging.getLogger("embedforge.evaluation")


def name_suffix(*parts: str | None) -> str:
    """``"_" + part`` for each non-empty part: the dataset-name part of result file names (``"_sts-dev"``)."""
    return "".join(f"_{part}" for part in parts if part)


def prefixed(name: str, key: str) -> str:
    """``key`` with the evaluator's ``name`` prefix (``"sts-dev_spearman_cosine"``); unchanged for no name."""
    return f"{name}_{key}" if name else key


def write_csv(output_path: str | Path, csv_file: str, header: Sequence[str], row: Sequence[Any]) -> Path:
    """Append ``row`` to ``output_path / csv_file``, writing ``header`` first if the file does not exist yet.

    Args:
        output_path: Folder of the file (created if missing).
        csv_file: File name, e.g. ``"similarity_evaluation_sts-dev_results.csv"``.
        header: Column names, e.g. ``["epoch", "steps", "cosine_pearson", "cosine_spearman"]``.
        row: One value per column.

    Returns:
        The path of the CSV file.

    Raises:
        ValueError: If ``row`` and ``header`` have different lengths.
    """
    if len(row) != len(header):
        raise ValueError(
            f"write_csv got a row of {len(row)} values for a header of {len(header)} columns ({list(header)}); "
            "pass one value per column."
        )
    folder = Path(output_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / csv_file
    is_new = not path.is_file()
    with open(path, mode="a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if is_new:
            writer.writerow(header)
        writer.writerow(row)
    return path


def run_description(epoch: float, steps: int, truncate_dim: int | None = None) -> str:
    """When the evaluation runs, in words: ``" in epoch 1 after 50 steps (truncated to 128)"``.

    Args:
        epoch: Epoch of the evaluation; -1 means outside training (nothing is said).
        steps: Steps in the epoch; -1 means at the end of the epoch.
        truncate_dim: Embedding truncation, mentioned when set.

    Returns:
        The phrase, starting with a space, or an empty string.
    """
    text = ""
    if epoch != -1:
        text = f" after epoch {epoch}" if steps == -1 else f" in epoch {epoch} after {steps} steps"
    if truncate_dim is not None:
        text += f" (truncated to {truncate_dim})"
    return text


def log_start(evaluator: str, name: str, epoch: float, steps: int, truncate_dim: int | None = None) -> None:
    """Log the start of an evaluation: ``"TripletEvaluator: Evaluating the model on the dev dataset ...:"``.

    Args:
        evaluator: Class name of the evaluator.
        name: Dataset name of the evaluator.
        epoch: Epoch of the evaluation (-1: outside training).
        steps: Steps in the epoch (-1: end of epoch).
        truncate_dim: Embedding truncation, mentioned when set.
    """
    logger.info(
        "%s: Evaluating the model on the %s dataset%s:", evaluator, name, run_description(epoch, steps, truncate_dim)
    )


def log_metrics(lines: Iterable[str]) -> None:
    """Log one already formatted result line each, e.g. ``"Cosine-Similarity: Pearson: 0.8123 ..."``.

    Args:
        lines: The result lines.
    """
    for line in lines:
        logger.info(line)
