"""``embedforge train RECIPE.yaml [key=value ...] [--resume] [--output-dir DIR]``: train a model from a recipe.

Steps: validate the recipe (as ``embedforge validate``; on any problem exit 1 before touching the output folder),
evaluate the base model (``before`` evaluators), train with the model family's trainer
(:class:`embedforge.SentenceTransformerTrainer`, or :class:`embedforge.CrossEncoderTrainer` for
``model.type: cross-encoder``; ``during`` evaluators at each evaluation), evaluate the trained model (``after``),
save it with its model card, and write the report. The output folder holds ``checkpoint-<step>/``, ``final/``
(the trained model, sentence-transformers format, with README.md), ``eval/`` (evaluator CSVs) and ``report/``.

SIGINT (Ctrl-C) or SIGTERM stops training cleanly at the end of the current step and saves a checkpoint there;
``--resume`` continues from the last checkpoint. A second Ctrl-C aborts at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.cli.launch import launch_with_torchrun, rank_console
from embedforge.cli.output import Console, add_output_options
from embedforge.cli.report import RunSummary, Throughput, write_report
from embedforge.cli.validate import add_recipe_arguments, check_recipe

if TYPE_CHECKING:
    from embedforge.config.recipe import Recipe
    from embedforge.config.validate import ValidationReport
    from embedforge.evaluation.base import SentenceEvaluator
    from embedforge.model.sentence_transformer import SentenceTransformer

__all__ = ["FINAL_DIR", "REPORT_DIR", "add_parser", "run"]

FINAL_DIR = "final"
"""Sub-folder of the output folder holding the trained model."""
REPORT_DIR = "report"
"""Sub-folder of the output folder holding the report."""

EXAMPLES = """\
examples:
  embedforge train recipes/stsb.yaml                                 # the main job: STSb, before/after Spearman
  embedforge train recipes/stsb.yaml training.max_steps=20 --output-dir output/stsb-quick
  embedforge train recipes/stsb.yaml model.from_package=null model.path=sentence-transformers/all-MiniLM-L6-v2
  embedforge train recipes/stsb.yaml --resume                        # continue after Ctrl-C
  embedforge train recipes/ce_stsb.yaml                              # a cross-encoder (model.type: cross-encoder)
  embedforge train recipes/nli_mnrl.yaml --json > run.jsonl          # one JSON object per line
  embedforge train recipes/stsb.yaml --nproc 2                       # DDP on 2 local processes, via torchrun
  torchrun --nproc_per_node 2 -m embedforge train recipes/stsb.yaml  # the same, started by torchrun itself

Output folder (the recipe's output_dir, or --output-dir): checkpoint-<step>/, final/ (the trained model in
sentence-transformers format with its model card), eval/ (evaluator CSVs), report/ (report.md, report.json, PNG
plots). Ctrl-C or SIGTERM stops at the end of the current step and saves a checkpoint; --resume continues it.
Exit status: 0 trained, 1 invalid recipe or output folder, 128+signal when interrupted.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    parser = subparsers.add_parser(
        "train",
        help="train a model from a YAML recipe, evaluate before/after, save it and write a report",
        description="Train a model from a YAML recipe: validate it, evaluate the base model, train, evaluate the "
        "trained model, save it with its model card, and write a report with plots.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(parser)
    parser.add_argument("--output-dir", help="the run folder (default: the recipe's output_dir)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output folder")
    nproc_help = "train on N processes of this machine (DDP) started by torchrun; see docs/distributed.md"
    parser.add_argument("--nproc", type=int, metavar="N", help=nproc_help)
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Validate, then train; see the module docstring."""
    if args.nproc is not None and args.nproc > 1:
        return launch_with_torchrun(args)
    console = rank_console(args)
    report = check_recipe(args.recipe, args.overrides, console)
    if not report.ok or report.recipe is None:
        console.error(
            f"not training: {len(report.problems)} problem(s) in {args.recipe}; the output folder was not "
            "touched. Run `embedforge validate` after fixing them."
        )
        return 1
    recipe = report.recipe
    if args.output_dir:
        recipe.output_dir = args.output_dir
    output_dir = Path(recipe.output_dir)
    checkpoint, error = _checkpoint(output_dir, args.resume)
    if error is not None:
        console.error(error)
        return 1
    return _train(recipe, report, checkpoint, console, _resume_command(args))


def _fit(trainer: Any, checkpoint: str | None, signals: _Signals, console: Console) -> Any:
    """``trainer.train``; None after a non-finite loss or a failed save (a full disk), whose error is printed."""
    with _stop_on_signals(signals, console):
        try:
            return trainer.train(resume_from_checkpoint=checkpoint)
        except (FloatingPointError, OSError) as error:  # the checkpoints already written are kept
            console.error(str(error))
            return None


def _resume_command(args: argparse.Namespace) -> str:
    """The command that continues this run: the same recipe, overrides and output folder, with ``--resume``."""
    import shlex

    words = ["embedforge", "train", args.recipe, *args.overrides]
    if args.output_dir:
        words += ["--output-dir", args.output_dir]
    return shlex.join([*words, "--resume"])


def _checkpoint(output_dir: Path, resume: bool, training_state: bool = True) -> tuple[str | None, str | None]:
    """The checkpoint to resume from, or an error message.

    With ``resume``, the newest complete checkpoint: newer partial or corrupt ones (a kill during a save, a full
    disk) are skipped with a warning naming them (see :mod:`embedforge.training.checkpoints`).
    """
    from embedforge.training import checkpoints

    folders = checkpoints.checkpoint_folders(output_dir)
    if resume and not folders:
        return None, f"--resume: no checkpoint-<step> folder in {str(output_dir)!r}; train without --resume first"
    if not resume and folders:
        return None, (
            f"{str(output_dir)!r} already holds checkpoints ({folders[0].name}); pass --resume to continue "
            "that run, or choose another --output-dir"
        )
    if not resume:
        return None, None
    try:
        return checkpoints.newest_complete_checkpoint(output_dir, training_state), None
    except ValueError as error:
        return None, f"--resume: {error}"


@dataclass
class _Signals:
    """The signal that asked training to stop (None while running)."""

    received: int | None = None


@contextmanager
def _stop_on_signals(signals: _Signals, console: Console) -> Iterator[None]:
    """Record SIGINT/SIGTERM in ``signals`` (a second one aborts); previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if signals.received is not None:
            raise KeyboardInterrupt
        signals.received = signum
        console.info(
            f"received {signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
            "(again to abort now)"
        )

    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _callbacks(signals: _Signals, console: Console) -> list[Any]:
    """A callback stopping at the end of the step after a signal, and (JSON mode) one printing the logs."""
    from transformers import TrainerCallback

    from embedforge.training.launch import agreed_signal

    class StopOnSignal(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            agreed = agreed_signal(signals.received, args.device)  # under DDP every rank stops after this step
            if agreed is not None:
                signals.received = agreed
                control.should_training_stop = True
                control.should_save = True
            return control

    class JsonLog(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            console.event("log", step=state.global_step, **(logs or {}))

    return [StopOnSignal(), JsonLog()] if console.mode == "json" else [StopOnSignal()]


def _trainer_class(model_type: str) -> type:
    """The family's trainer, counting samples (and real and padded tokens) of every training batch."""
    from embedforge.config.families import recipe_family

    trainer_class = recipe_family(model_type).load("trainer")

    class MeasuredTrainer(trainer_class):
        meter: Throughput

        def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
            _count(self.meter, inputs)
            return super().training_step(model, inputs, num_items_in_batch)

    return MeasuredTrainer


def _count(meter: Throughput, inputs: dict[str, Any]) -> None:
    """Add one collated batch to ``meter``.

    A bi-encoder batch holds ``sentence_features`` (one tokenized dict per text column): samples and tokens are
    counted. A cross-encoder batch holds texts (its losses tokenize): only samples are counted.
    """
    if "sentence_features" not in inputs:
        from embedforge.cross_encoder.data_collator import input_columns

        columns = input_columns(inputs)
        meter.samples += len(columns[0]) if columns else 0
        return
    features = inputs.get("sentence_features") or []
    for index, column in enumerate(features):
        mask = column.get("attention_mask", column.get("input_ids"))
        if mask is None:
            continue
        if index == 0:
            meter.samples += int(mask.shape[0])
        meter.padded_tokens += int(mask.numel())
        meter.tokens += int(mask.bool().sum()) if "attention_mask" in column else int(mask.numel())


def _evaluate(
    evaluators: list[SentenceEvaluator], model: SentenceTransformer, folder: Path, label: str, console: Console
) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for evaluator in evaluators:
        console.info(f"evaluating ({label}): {type(evaluator).__name__} {evaluator.name}".rstrip())
        metrics.update(evaluator(model, output_path=str(folder)))
    if metrics:
        console.metrics(label, metrics)
    return metrics


def _stage(report: ValidationReport, recipe: Recipe, stage: str) -> list[SentenceEvaluator]:
    return [
        evaluator
        for evaluator, spec in zip(report.evaluators, recipe.evaluators, strict=True)
        if evaluator is not None and stage in spec.when
    ]


def _one_or_list(evaluators: list[SentenceEvaluator]) -> SentenceEvaluator | list[SentenceEvaluator] | None:
    """None, the evaluator, or the list (the trainer runs a list as a SequentialEvaluator)."""
    return evaluators[0] if len(evaluators) == 1 else evaluators or None


def _train(
    recipe: Recipe, report: ValidationReport, checkpoint: str | None, console: Console, resume_command: str
) -> int:
    from transformers import set_seed

    from embedforge.config import build
    from embedforge.config.recipe import dump_recipe
    from embedforge.training.launch import launched_rank, sum_over_ranks

    output_dir = Path(recipe.output_dir)
    console.info(f"loading the model ({recipe.model.path or recipe.model.from_package})")
    set_seed(int(recipe.training.get("seed", 42)))  # weights a checkpoint lacks (a new head) are drawn reproducibly
    model = build.build_model(recipe.model)
    names = list(report.train_datasets)
    losses = build.build_losses(recipe, model, names)
    training = {"disable_tqdm": not console.show_progress, **recipe.training}
    args = build.build_training_args(dataclasses.replace(recipe, training=training), output_dir)
    summary = RunSummary(recipe_yaml=dump_recipe(recipe))
    main = launched_rank() == 0  # under torchrun, rank 0 evaluates before/after, saves final/ and reports
    before = _stage(report, recipe, "before") if main else []
    summary.before = _evaluate(before, model, output_dir / "eval", "before", console)
    signals = _Signals()
    trainer = _trainer_class(recipe.model.type)(
        model=model,
        args=args,
        train_dataset=report.train_datasets,
        eval_dataset=report.eval_datasets or None,
        loss=losses if len(losses) > 1 else losses[names[0]],
        evaluator=_one_or_list(_stage(report, recipe, "during")),
        callbacks=_callbacks(signals, console),
    )
    if console.mode != "text":
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    trainer.meter = summary.throughput
    start_step = int(Path(checkpoint).name.rsplit("-", 1)[-1]) if checkpoint else 0
    console.info(
        f"training: {sum(len(data) for data in report.train_datasets.values())} rows, output {output_dir}"
        + (f", resuming from {checkpoint}" if checkpoint else "")
    )
    result = _fit(trainer, checkpoint, signals, console)
    if result is None:
        return 1
    summary.throughput.train_seconds = float(result.metrics.get("train_runtime", 0.0))
    summary.throughput.steps = trainer.state.global_step - start_step
    summary.global_step = trainer.state.global_step
    summary.log_history = list(trainer.state.log_history)
    meter = summary.throughput  # each rank counted its own batches: the run's totals are their sums
    meter.samples, meter.tokens, meter.padded_tokens = sum_over_ranks(
        [meter.samples, meter.tokens, meter.padded_tokens], args.device
    )
    if not main:
        return 0 if signals.received is None else 128 + signals.received
    if signals.received is not None:
        return _interrupted(summary, output_dir, signals.received, console, resume_command)
    summary.after = _evaluate(_stage(report, recipe, "after"), model, output_dir / "eval", "after", console)
    final = output_dir / FINAL_DIR
    model.save(str(final))
    summary.model_dir = str(final)
    _finish(summary, output_dir, console)
    return 0


def _peak_memory(summary: RunSummary) -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        summary.peak_memory_bytes = int(torch.cuda.max_memory_allocated())
        summary.memory_kind = "torch.cuda.max_memory_allocated (GPU)"
        return
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    summary.peak_memory_bytes = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _finish(summary: RunSummary, output_dir: Path, console: Console) -> Path:
    """Write the report and print the run's summary."""
    _peak_memory(summary)
    path = write_report(output_dir / REPORT_DIR, summary)
    throughput = summary.throughput
    console.result(
        f"step {summary.global_step}: {throughput.samples_per_second:.1f} samples/s, "
        f"{throughput.token_summary()}, peak memory "
        f"{summary.peak_memory_bytes / 2**20:.0f} MiB",
        event="throughput",
        **throughput.to_dict(),
        peak_memory_bytes=summary.peak_memory_bytes,
    )
    for key in summary.after:
        if key in summary.before:
            console.result(
                f"{key}: {summary.before[key]:.4f} -> {summary.after[key]:.4f} "
                f"({summary.after[key] - summary.before[key]:+.4f})",
                event="delta",
                metric=key,
                before=summary.before[key],
                after=summary.after[key],
            )
    console.result(
        f"model: {summary.model_dir or summary.checkpoint}; report: {path}",
        event="done",
        status=summary.status,
        model_dir=summary.model_dir,
        checkpoint=summary.checkpoint,
        report=str(path),
    )
    return path


def _interrupted(summary: RunSummary, output_dir: Path, signum: int, console: Console, resume_command: str) -> int:
    from transformers.trainer_utils import get_last_checkpoint

    summary.status = "interrupted"
    summary.checkpoint = get_last_checkpoint(str(output_dir))
    console.result(
        f"interrupted by {signal.Signals(signum).name} at step {summary.global_step}; checkpoint: "
        f"{summary.checkpoint}. Continue with: {resume_command}",
        event="interrupted",
        step=summary.global_step,
        checkpoint=summary.checkpoint,
    )
    _finish(summary, output_dir, console)
    return 128 + signum
