"""``embedforge tune RECIPE.yaml --trials N``: hyperparameter search over a recipe with optuna.

Each trial is a full ``embedforge train`` run of the recipe with the trial's values applied as ``key=value``
overrides (any recipe key can be searched: ``training.learning_rate``, ``loss.args.scale``…), in
``<output_dir>/trial-<n>/`` with its own report. The objective is the recipe's ``search.metric`` from the ``after``
evaluation. optuna's TPE sampler proposes the values (seeded: ``search.seed``, else ``training.seed``). The search
report, ``<output_dir>/tune/report.md`` and ``report.json`` (and ``objective.png`` with matplotlib), lists every
trial's values, objective and ``after`` metrics, best first. Needs optuna (``pip install "embedforge[hpo]"``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.cli.output import Console, add_output_options
from embedforge.cli.validate import add_recipe_arguments, check_recipe

if TYPE_CHECKING:
    from embedforge.config.search import SearchSpec

__all__ = ["TUNE_DIR", "add_parser", "run"]

TUNE_DIR = "tune"

EXAMPLES = """examples:
  embedforge tune recipes/stsb_tune.yaml --trials 6
  embedforge tune recipes/stsb_tune.yaml --trials 20 training.num_train_epochs=2 --output-dir output/hpo

The recipe's search section:
  search:
    metric: sts-dev_spearman_cosine
    direction: maximize
    space:
      training.learning_rate: {type: float, low: 1.0e-5, high: 2.0e-4, log: true}
      training.per_device_train_batch_size: {type: categorical, choices: [16, 32]}
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``tune``."""
    parser = subparsers.add_parser(
        "tune",
        help="search hyperparameters of a recipe with optuna (each trial a full train run)",
        description=__doc__.split("\n\n")[1].replace("``", "`"),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(parser)
    parser.add_argument("--trials", type=int, default=10, help="number of trials (default 10)")
    parser.add_argument("--output-dir", help="the search folder (default: the recipe's output_dir)")
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Validate the recipe and its search section, then run the trials; 0 when every trial completed."""
    from embedforge.config.search import search_problems

    console = Console.from_args(args)
    report = check_recipe(args.recipe, args.overrides, console)
    problems = list(report.problems) + (search_problems(report.recipe.search) if report.recipe else [])
    if args.trials < 1:
        problems.append(f"--trials must be at least 1, found {args.trials}")
    try:
        import optuna
    except ImportError:
        problems.append('embedforge tune needs optuna: pip install "embedforge[hpo]" (or pip install optuna)')
    if problems or report.recipe is None or report.recipe.search is None:
        for problem in problems[len(report.problems) :]:
            console.error(problem)
        console.error(f"not tuning: {len(problems)} problem(s); nothing was written.")
        return 1
    recipe = report.recipe
    search = recipe.search
    output_dir = Path(args.output_dir or recipe.output_dir)
    seed = search.seed if search.seed is not None else recipe.training.get("seed")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=search.direction, sampler=optuna.samplers.TPESampler(seed=seed))
    trials: list[dict[str, Any]] = []
    for number in range(args.trials):
        trial = study.ask()
        values = {key: parameter.suggest(trial, key) for key, parameter in search.space.items()}
        record = _run_trial(args, number, values, output_dir, search, console)
        trials.append(record)
        if record["objective"] is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            if record.get("missing_metric"):
                console.error(record["error"])
                break
        else:
            study.tell(trial, record["objective"])
    path = _write_search_report(output_dir / TUNE_DIR, search, trials)
    done = [trial for trial in trials if trial["objective"] is not None]
    if not done:
        console.error(f"no trial completed; see {path}")
        return 1
    best = _ranked(done, search.direction)[0]
    console.result(
        f"best trial {best['number']}: {search.metric} = {best['objective']:.4f} with {best['values']} "
        f"({len(done)}/{len(trials)} trials completed; report: {path})",
        event="tune",
        best=best,
        trials=len(trials),
    )
    return 0 if len(done) == len(trials) else 1


def _run_trial(
    args: argparse.Namespace,
    number: int,
    values: dict[str, Any],
    output_dir: Path,
    search: SearchSpec,
    console: Console,
) -> dict[str, Any]:
    """One ``embedforge train`` run with the trial's overrides; its values, objective and after-metrics."""
    from embedforge.cli import train

    folder = output_dir / f"trial-{number}"
    overrides = [*args.overrides, *(f"{key}={json.dumps(value)}" for key, value in values.items())]
    console.info(f"trial {number}: {values} -> {folder}")
    trial_args = argparse.Namespace(
        **{**vars(args), "overrides": overrides, "output_dir": str(folder), "resume": False, "nproc": None}
    )
    start = time.perf_counter()
    status = train.run(trial_args)
    record: dict[str, Any] = {
        "number": number,
        "values": values,
        "objective": None,
        "seconds": round(time.perf_counter() - start, 1),
        "folder": str(folder),
        "metrics": {},
    }
    report_file = folder / "report" / "report.json"
    if status != 0 or not report_file.is_file():
        record["error"] = f"embedforge train exited with {status}"
        return record
    rows = json.loads(report_file.read_text(encoding="utf-8"))["metrics"]
    record["metrics"] = {row["metric"]: row["after"] for row in rows if row["after"] is not None}
    if search.metric not in record["metrics"]:
        record["missing_metric"] = True
        record["error"] = (
            f"search.metric {search.metric!r} is not among the after-training metrics of trial {number}: "
            f"{sorted(record['metrics'])}; set search.metric to one of them (or add an 'after' evaluator)"
        )
        return record
    record["objective"] = float(record["metrics"][search.metric])
    return record


def _ranked(trials: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    return sorted(trials, key=lambda trial: trial["objective"], reverse=direction == "maximize")


def _write_search_report(folder: Path, search: SearchSpec, trials: list[dict[str, Any]]) -> Path:
    """``report.json`` (every trial), ``report.md`` (best first) and ``objective.png`` (with matplotlib)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = _ranked([trial for trial in trials if trial["objective"] is not None], search.direction)
    failed = [trial for trial in trials if trial["objective"] is None]
    data = {"metric": search.metric, "direction": search.direction, "best": done[0] if done else None}
    (folder / "report.json").write_text(json.dumps({**data, "trials": trials}, indent=2), encoding="utf-8")
    keys = list(search.space)
    lines = [
        f"# Hyperparameter search: {search.metric} ({search.direction})",
        "",
        f"{len(done)} of {len(trials)} trials completed, best first.",
        "",
        "| trial | " + " | ".join(keys) + f" | {search.metric} | seconds |",
        "|---" * (len(keys) + 3) + "|",
    ]
    for trial in done + failed:
        objective = f"{trial['objective']:.4f}" if trial["objective"] is not None else trial.get("error", "failed")
        cells = [str(trial["values"][key]) for key in keys]
        lines.append(f"| {trial['number']} | " + " | ".join(cells) + f" | {objective} | {trial['seconds']} |")
    if _plot(folder / "objective.png", trials, search.metric):
        lines += ["", "![objective per trial](objective.png)"]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _plot(path: Path, trials: list[dict[str, Any]], metric: str) -> bool:
    """The objective of each completed trial; False when matplotlib is missing or nothing completed."""
    points = [(trial["number"], trial["objective"]) for trial in trials if trial["objective"] is not None]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not points:
        return False
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot([p[0] for p in points], [p[1] for p in points], "o-")
    axes.set_xlabel("trial")
    axes.set_ylabel(metric)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
