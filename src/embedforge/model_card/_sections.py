"""The training-related sections of the model card: datasets, losses, hyperparameters, logs, time, versions."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from textwrap import indent
from typing import TYPE_CHECKING, Any

from embedforge.model_card._markdown import (
    code_block,
    format_duration,
    format_number,
    html_list,
    join_words,
    markdown_table,
)

if TYPE_CHECKING:
    from embedforge.model_card.data import SentenceTransformerModelCardData
    from embedforge.model_card.statistics import DatasetSummary, LossSummary

LOSS_DOCS = "https://sbert.net/docs/package_reference/sentence_transformer/losses.html"
FRAMEWORKS = (
    ("embedforge", "embedforge"),
    ("Transformers", "transformers"),
    ("PyTorch", "torch"),
    ("Accelerate", "accelerate"),
    ("Datasets", "datasets"),
    ("Tokenizers", "tokenizers"),
)
"""(label, distribution name) of the packages listed under Framework Versions."""

MAX_VISIBLE_LOG_ROWS = 100
"""A longer training-logs table is folded into a ``<details>`` block."""

DETAILS_FROM = 4
"""From this many datasets on, each dataset's section is folded into a ``<details>`` block."""


def has_training_details(card_data: SentenceTransformerModelCardData) -> bool:
    """True when there is anything to say about training."""
    return bool(
        card_data.trained
        or card_data.train_dataset_summaries
        or card_data.eval_dataset_summaries
        or card_data.all_hyperparameters
        or card_data.training_logs
    )


def training_details_section(card_data: SentenceTransformerModelCardData) -> str:
    """The ``Training Details`` section."""
    parts = [
        "## Training Details",
        datasets_section("training", card_data.train_dataset_summaries),
        datasets_section("evaluation", card_data.eval_dataset_summaries),
        hyperparameters_section(card_data.non_default_hyperparameters, card_data.all_hyperparameters),
        training_logs_section(card_data.training_logs),
        emissions_section(card_data.co2_eq_emissions),
        training_time_section(card_data.training_time, card_data.evaluation_time),
    ]
    return "\n\n".join(part for part in parts if part)


def datasets_section(kind: str, summaries: list[DatasetSummary]) -> str:
    """``### Training Dataset(s)`` or ``### Evaluation Dataset(s)`` with one subsection per dataset."""
    if not summaries:
        return ""
    heading = f"### {kind.title()} Dataset{'s' if len(summaries) > 1 else ''}"
    blocks = [dataset_block(kind, summary) for summary in summaries]
    if len(summaries) >= DETAILS_FROM:
        blocks = [
            f"<details><summary>{summary.name or 'Unnamed Dataset'}</summary>\n\n{block}\n\n</details>"
            for summary, block in zip(summaries, blocks, strict=True)
        ]
    return "\n\n".join([heading, *blocks])


def dataset_block(kind: str, summary: DatasetSummary) -> str:
    """One dataset: source, size, columns, statistics table, samples table, loss."""
    lines = [f"#### {summary.name or 'Unnamed Dataset'}", ""]
    if summary.name:
        source = f"[{summary.name}](https://huggingface.co/datasets/{summary.id})" if summary.id else summary.name
        if summary.id and summary.revision:
            tree = f"https://huggingface.co/datasets/{summary.id}/tree/{summary.revision}"
            source += f" at [{summary.revision[:7]}]({tree})"
        lines.append(f"* Dataset: {source}")
    if summary.size is not None:
        lines.append(f"* Size: {summary.size:,} {kind} samples")
    lines.append("* Columns: " + join_words([f"<code>{column}</code>" for column in summary.columns]))
    if summary.stats:
        lines.append(f"* Approximate statistics based on the first {summary.stats_rows} samples:")
        lines.append(indent(_stats_table(summary), "  "))
    if summary.samples:
        lines.append("* Samples:")
        lines.append(indent(markdown_table(summary.samples, summary.columns), "  "))
    if summary.loss is not None:
        lines.append(loss_line(summary.loss))
    return "\n".join(lines)


def _stats_table(summary: DatasetSummary) -> str:
    """Type and statistics of each column, one table column per dataset column."""
    rows = [
        {"": "type", **{column: stats.dtype for column, stats in summary.stats.items()}},
        {"": "details", **{column: html_list(stats.details) for column, stats in summary.stats.items()}},
    ]
    return markdown_table(rows, ["", *summary.stats])


def loss_line(loss: LossSummary) -> str:
    """``* Loss: <name> with these parameters:`` and its config as indented JSON."""
    if loss.fullname.startswith("embedforge.losses."):
        name = f"[<code>{loss.name}</code>]({LOSS_DOCS}#{loss.name.lower()})"
    else:
        name = f"<code>{loss.fullname}</code>"
    if not loss.config:
        return f"* Loss: {name}"
    config = json.dumps(loss.config, indent=4, default=str)
    return f"* Loss: {name} with these parameters:\n" + code_block(config, "json", prefix="  ")


def hyperparameters_section(non_default: dict[str, Any], everything: dict[str, Any]) -> str:
    """``### Training Hyperparameters``: the non-default ones, then all of them folded."""
    if not everything:
        return ""
    parts = ["### Training Hyperparameters"]
    if non_default:
        parts.append("#### Non-Default Hyperparameters\n\n" + _argument_list(non_default))
    parts.append(
        "#### All Hyperparameters\n<details><summary>Click to expand</summary>\n\n"
        + _argument_list(everything)
        + "\n\n</details>"
    )
    return "\n\n".join(parts)


def _argument_list(arguments: dict[str, Any]) -> str:
    """One ``- `name`: value`` line per argument."""
    return "\n".join(f"- `{name}`: {value}" for name, value in arguments.items())


def _log_column_order(column: str, first_seen: list[str]) -> tuple[int, int]:
    """Sort key of a logs-table column: Epoch, Step, Training Loss, Validation Loss, other losses, metrics."""
    fixed = {"Epoch": 0, "Step": 1, "Training Loss": 2, "Validation Loss": 3}
    if column in fixed:
        return fixed[column], 0
    return (4 if column.endswith("loss") else 5), first_seen.index(column)


def training_logs_section(logs: list[dict[str, Any]]) -> str:
    """``### Training Logs``: one row per logged step; folded when long."""
    if not logs:
        return ""
    first_seen = list(dict.fromkeys(key for row in logs for key in row))
    columns = sorted(first_seen, key=lambda column: _log_column_order(column, first_seen))
    rows = [
        {column: "-" if row.get(column) is None else format_number(row[column]) for column in columns} for row in logs
    ]
    table = markdown_table(rows, columns)
    if len(logs) > MAX_VISIBLE_LOG_ROWS:
        table = f"<details><summary>Click to expand</summary>\n\n{table}\n\n</details>"
    return "### Training Logs\n\n" + table


def emissions_section(co2: dict[str, Any] | None) -> str:
    """``### Environmental Impact`` from CodeCarbon data (``emissions`` in grams, ``energy_consumed`` in kWh)."""
    if not co2:
        return ""
    lines = [
        "### Environmental Impact",
        "Carbon emissions were measured with [CodeCarbon](https://github.com/mlco2/codecarbon).",
        f"- **Energy Consumed**: {float(co2.get('energy_consumed', 0.0)):.3f} kWh",
        f"- **Carbon Emitted**: {float(co2.get('emissions', 0.0)) / 1000:.3f} kg of CO2",
        "",
        "### Training Hardware",
        f"- **On Cloud**: {'Yes' if co2.get('on_cloud') else 'No'}",
        f"- **GPU Model**: {co2.get('hardware_used') or 'No GPU used'}",
        f"- **CPU Model**: {co2.get('cpu_model', 'unknown')}",
        f"- **RAM Size**: {float(co2.get('ram_total_size', 0.0)):.2f} GB",
    ]
    return "\n".join(lines)


def training_time_section(total: float | None, evaluation: float) -> str:
    """``### Training Time``: training alone, and evaluation and total when evaluation took time."""
    if total is None:
        return ""
    lines = ["### Training Time", f"- **Training**: {format_duration(max(total - evaluation, 0.0))}"]
    if evaluation:
        lines.append(f"- **Evaluation**: {format_duration(evaluation)}")
        lines.append(f"- **Total**: {format_duration(total)}")
    return "\n".join(lines)


def framework_versions_section() -> str:
    """``## Framework Versions``: Python and the installed versions of the libraries involved."""
    lines = ["## Framework Versions", f"- Python: {platform.python_version()}"]
    for label, distribution in FRAMEWORKS:
        try:
            lines.append(f"- {label}: {version(distribution)}")
        except PackageNotFoundError:
            continue
    return "\n".join(lines)


def citations_section(citations: dict[str, str]) -> str:
    """``## Citation``: BibTeX of Sentence-BERT and of each loss that declares one."""
    blocks = [f"#### {name}\n" + code_block(bibtex.strip(), "bibtex") for name, bibtex in citations.items()]
    return "\n\n".join(["## Citation", "### BibTeX", *blocks])
