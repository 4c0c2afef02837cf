"""The training report: ``<output_dir>/report/`` with ``report.md``, ``report.json`` and PNG plots.

``report.md`` holds the run's config (the resolved recipe), the metrics before and after training with their
deltas, throughput (samples/s, tokens/s, padding share), peak memory, and links to the plots: the training loss
curve, the learning rate, and each evaluation metric over the steps. Plots need matplotlib (the ``report`` or
``dev`` extra); without it the report says that they were skipped and why.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from embedforge.training.nonfinite import skipped_batches

__all__ = ["RunSummary", "Throughput", "eval_metric_names", "write_report"]

_EVAL_BOOKKEEPING = ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_loss_runtime")


@dataclass
class Throughput:
    """What the training steps processed.

    Attributes:
        samples: Rows trained on.
        tokens: Real (non-padding) tokens, over all text columns.
        padded_tokens: Tokens fed to the model including padding (batch x padded length, per column).
        train_seconds: transformers' ``train_runtime`` (evaluations during training included).
        steps: Optimizer steps done in this run.
    """

    samples: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    train_seconds: float = 0.0
    steps: int = 0

    @property
    def samples_per_second(self) -> float:
        """Samples per training second."""
        return self.samples / self.train_seconds if self.train_seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        """Real tokens per training second."""
        return self.tokens / self.train_seconds if self.train_seconds else 0.0

    @property
    def padding_share(self) -> float:
        """Share of the fed tokens that were padding."""
        return 1 - self.tokens / self.padded_tokens if self.padded_tokens else 0.0

    @property
    def counts_tokens(self) -> bool:
        """Whether tokens were counted (bi-encoder batches arrive tokenized; cross-encoder batches hold texts)."""
        return self.padded_tokens > 0

    def token_summary(self) -> str:
        """``"N tokens/s, padding X%"``, or a note that tokens were not counted."""
        if not self.counts_tokens:
            return "tokens not counted (cross-encoder batches are tokenized inside the loss)"
        return f"{self.tokens_per_second:.0f} tokens/s, padding {self.padding_share:.1%}"

    def to_dict(self) -> dict[str, float]:
        """Counts and rates."""
        return {
            **asdict(self),
            "samples_per_second": self.samples_per_second,
            "tokens_per_second": self.tokens_per_second,
            "padding_share": self.padding_share,
        }


@dataclass
class RunSummary:
    """Everything the report shows.

    Attributes:
        recipe_yaml: The resolved recipe (``dump_recipe``), overrides applied.
        status: ``completed`` or ``interrupted``.
        global_step: Last optimizer step.
        before: Metrics of the base model (``before`` evaluators).
        after: Metrics of the trained model (``after`` evaluators).
        log_history: transformers' ``state.log_history`` (loss, learning rate, eval metrics per step).
        throughput: Training throughput.
        peak_memory_bytes: Peak memory (GPU allocated on CUDA, else the process's max resident set).
        memory_kind: What ``peak_memory_bytes`` measures.
        model_dir: The saved model folder (None if not saved).
        checkpoint: The last checkpoint (when interrupted).
    """

    recipe_yaml: str
    status: str = "completed"
    global_step: int = 0
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    throughput: Throughput = field(default_factory=Throughput)
    peak_memory_bytes: int = 0
    memory_kind: str = "max resident set size (CPU)"
    model_dir: str | None = None
    checkpoint: str | None = None


def eval_metric_names(log_history: list[dict[str, Any]]) -> list[str]:
    """The numeric ``eval_*`` metrics logged during training, bookkeeping (runtime, samples/s) left out."""
    names: dict[str, None] = {}
    for row in log_history:
        for key, value in row.items():
            if key.startswith("eval_") and key not in _EVAL_BOOKKEEPING and _is_number(value):
                names[key] = None
    return list(names)


def write_report(folder: str | Path, summary: RunSummary) -> Path:
    """Write ``report.md``, ``report.json`` and the plots into ``folder``.

    Args:
        folder: The report folder (created).
        summary: What to report.

    Returns:
        The path of ``report.md``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots, note = _plots(folder, summary.log_history)
    data = {
        "status": summary.status,
        "global_step": summary.global_step,
        "nonfinite_loss_skipped": skipped_batches(summary.log_history),
        "metrics": _metric_rows(summary.before, summary.after),
        "throughput": summary.throughput.to_dict(),
        "peak_memory_bytes": summary.peak_memory_bytes,
        "memory_kind": summary.memory_kind,
        "model_dir": summary.model_dir,
        "checkpoint": summary.checkpoint,
        "plots": plots,
        "plots_note": note,
        "log_history": summary.log_history,
        "recipe": summary.recipe_yaml,
    }
    (folder / "report.json").write_text(json.dumps(_finite(data), indent=2, default=str), encoding="utf-8")
    path = folder / "report.md"
    path.write_text(_markdown(summary, plots, note), encoding="utf-8")
    return path


def _metric_rows(before: dict[str, float], after: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        delta = new - old if _is_number(old) and _is_number(new) else None
        rows.append({"metric": key, "before": old, "after": new, "delta": delta})
    return rows


def _markdown(summary: RunSummary, plots: list[str], note: str | None) -> str:
    throughput = summary.throughput
    lines = [
        "# Training report",
        "",
        f"Status: **{summary.status}** at step {summary.global_step}.{_skipped_note(summary)}",
        f"Model: `{summary.model_dir}`" if summary.model_dir else f"Last checkpoint: `{summary.checkpoint}`",
        "",
        "## Metrics before and after training",
        "",
        "| metric | before | after | delta |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {row['metric']} | {_fmt(row['before'])} | {_fmt(row['after'])} | {_fmt(row['delta'], sign=True)} |"
        for row in _metric_rows(summary.before, summary.after)
    ]
    if not summary.before and not summary.after:
        lines.append("| (no before/after evaluators) | | | |")
    lines += [
        "",
        "## Throughput",
        "",
        "| samples | real tokens | padded tokens | padding share | train seconds | samples/s | tokens/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        _throughput_row(throughput),
        "",
        "Train seconds are transformers' `train_runtime` (evaluations during training included); tokens count "
        "every text column (n/a: not counted, as for cross-encoders, whose losses tokenize the texts).",
        "",
        "## Memory",
        "",
        f"Peak memory: {summary.peak_memory_bytes / 2**20:.0f} MiB ({summary.memory_kind}).",
        "",
        "## Plots",
        "",
    ]
    lines += [f"- [{Path(plot).stem}]({plot})" for plot in plots] or ["(none)"]
    if note:
        lines += ["", f"Note: {note}"]
    lines += ["", "## Config", "", "```yaml", summary.recipe_yaml.rstrip(), "```", ""]
    return "\n".join(lines)


def _skipped_note(summary: RunSummary) -> str:
    """A sentence on the batches skipped for a non-finite loss (``nonfinite_loss: skip``), or nothing."""
    skipped = skipped_batches(summary.log_history)
    if not skipped:
        return ""
    return f" {skipped} batch{'es' * (skipped > 1)} skipped for a non-finite (NaN/inf) loss (`nonfinite_loss: skip`)."


def _fmt(value: Any, sign: bool = False) -> str:
    if not _is_number(value):
        return "" if value is None else str(value)
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


# ------------------------------------------------------------------------------------------------ plots
def _plots(folder: Path, log_history: list[dict[str, Any]]) -> tuple[list[str], str | None]:
    """Write one PNG per curve; the file names (relative to ``folder``) and a note when plots were skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        return [], f"plots skipped: matplotlib is not installed ({error}); pip install 'embedforge[report]'"
    curves = [("loss", "training loss"), ("learning_rate", "learning rate")]
    curves += [(name, name.removeprefix("eval_")) for name in eval_metric_names(log_history)]
    written = []
    for key, title in curves:
        points = [(row["step"], row[key]) for row in log_history if "step" in row and _is_number(row.get(key))]
        if not points:
            continue
        figure, axes = plt.subplots(figsize=(6, 3.5))
        axes.plot(
            [step for step, _ in points], [value for _, value in points], marker="o" if len(points) < 30 else None
        )
        axes.set_xlabel("step")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        figure.tight_layout()
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".png"
        figure.savefig(folder / name, dpi=100)
        plt.close(figure)
        written.append(name)
    return written, None if written else "no loss, learning rate or eval metric was logged (nothing to plot)"


def _throughput_row(throughput: Throughput) -> str:
    """The report's throughput table row; token columns read ``n/a`` where tokens were not counted."""
    if throughput.counts_tokens:
        tokens = (
            f"{throughput.tokens} | {throughput.padded_tokens} | {throughput.padding_share:.1%}",
            f"{throughput.tokens_per_second:.0f}",
        )
    else:
        tokens = ("n/a | n/a | n/a", "n/a")
    return (
        f"| {throughput.samples} | {tokens[0]} | {throughput.train_seconds:.1f} | "
        f"{throughput.samples_per_second:.1f} | {tokens[1]} |"
    )
