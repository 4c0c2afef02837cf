"""The training report: markdown with deltas, JSON, valid PNG plots, and the note when matplotlib is missing."""

from __future__ import annotations

import json
import sys

from embedforge.cli.report import RunSummary, Throughput, eval_metric_names, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LOGS = [
    {"loss": 2.0, "learning_rate": 1e-5, "step": 1, "epoch": 0.5},
    {"eval_dev_spearman_cosine": 0.5, "eval_runtime": 0.1, "step": 1},
    {"loss": 1.5, "learning_rate": 5e-6, "step": 2, "epoch": 1.0},
    {"eval_dev_spearman_cosine": 0.6, "eval_runtime": 0.1, "step": 2},
    {"train_runtime": 3.0, "step": 2},
]


def summary() -> RunSummary:
    return RunSummary(
        recipe_yaml="model:\n  path: x\n",
        global_step=2,
        before={"test_spearman_cosine": 0.5, "test_pearson_cosine": float("nan")},
        after={"test_spearman_cosine": 0.75, "test_pearson_cosine": 0.7},
        log_history=LOGS,
        throughput=Throughput(samples=32, tokens=300, padded_tokens=400, train_seconds=2.0, steps=2),
        peak_memory_bytes=3 * 2**20,
        model_dir="out/final",
    )


def test_eval_metric_names_skip_bookkeeping():
    assert eval_metric_names(LOGS) == ["eval_dev_spearman_cosine"]


def test_throughput_rates():
    throughput = summary().throughput
    assert throughput.samples_per_second == 16 and throughput.tokens_per_second == 150
    assert throughput.padding_share == 0.25
    assert Throughput().padding_share == 0 and Throughput().samples_per_second == 0


def test_uncounted_tokens_read_not_applicable(tmp_path):
    """Cross-encoder batches hold texts: the report says tokens were not counted instead of showing zeros."""
    counted = summary().throughput
    assert counted.token_summary() == "150 tokens/s, padding 25.0%"
    uncounted = Throughput(samples=32, train_seconds=2.0, steps=2)
    assert uncounted.token_summary().startswith("tokens not counted")
    run = summary()
    run.throughput = uncounted
    markdown = write_report(tmp_path / "report", run).read_text(encoding="utf-8")
    assert "| 32 | n/a | n/a | n/a | 2.0 | 16.0 | n/a |" in markdown


def test_report_files(tmp_path):
    path = write_report(tmp_path / "report", summary())
    markdown = path.read_text(encoding="utf-8")
    assert "| test_spearman_cosine | 0.5000 | 0.7500 | +0.2500 |" in markdown
    assert "| test_pearson_cosine | nan | 0.7000 |  |" in markdown  # a NaN before: no delta
    assert "25.0%" in markdown and "3 MiB" in markdown and "```yaml\nmodel:" in markdown
    data = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert data["plots"] == ["loss.png", "learning_rate.png", "eval_dev_spearman_cosine.png"]
    assert data["metrics"][1]["before"] is None
    for name in data["plots"]:
        assert f"]({name})" in markdown
        assert (tmp_path / "report" / name).read_bytes().startswith(PNG_MAGIC)


def test_plots_are_skipped_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = write_report(tmp_path / "report", summary())
    assert "plots skipped: matplotlib is not installed" in path.read_text(encoding="utf-8")
    assert not list((tmp_path / "report").glob("*.png"))


def test_nothing_logged(tmp_path):
    path = write_report(tmp_path / "report", RunSummary(recipe_yaml="{}\n", status="interrupted", checkpoint="c-1"))
    text = path.read_text(encoding="utf-8")
    assert "interrupted" in text and "nothing to plot" in text and "(no before/after evaluators)" in text
