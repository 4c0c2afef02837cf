"""Check a recipe without training, and report every problem at once.

Checks: the schema (unknown keys, wrong types, overrides, ``${VAR}``), the model (package installed, folder
present, tokenizer loads), training argument names and values, loss and evaluator names (with close matches) and
their argument names, data files (present, valid UTF-8) and columns, each dataset against its loss (text columns,
empty or non-string texts, label dtype, missing or non-finite labels —
:func:`embedforge.data.validation.check_dataset`, the trainer's own check), evaluator data.
It also measures token lengths per text column: a histogram and the share of texts longer than the model's
``max_seq_length`` (which training truncates). The model's weights are not loaded: only its tokenizer and config.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.config import build
from embedforge.config.data import DataError, load_data, looks_like_hub_id, resolve_format
from embedforge.config.families import FAMILIES
from embedforge.config.lengths import BIN_EDGES, LengthStats, length_stats
from embedforge.config.recipe import DatasetSpec, LossSpec, ModelSpec, Recipe, read_recipe

if TYPE_CHECKING:
    from datasets import Dataset

    from embedforge.evaluation.base import SentenceEvaluator
    from embedforge.losses.base import InputSpec, Loss

__all__ = ["BIN_EDGES", "LengthStats", "ValidationReport", "validate_recipe"]

_LOAD_ERRORS = (DataError, FileNotFoundError, ValueError, TypeError, OSError)


@dataclass
class ValidationReport:
    """What validating a recipe found.

    Attributes:
        recipe: The recipe (None if the file could not be read).
        problems: Every problem, one readable line each; training must not start if there is any.
        lengths: Token-length statistics per text column of the training/eval datasets.
        train_datasets: The loaded training datasets (reused by ``train``).
        eval_datasets: The loaded evaluation datasets.
        evaluators: The built evaluators, aligned with ``recipe.evaluators`` (None where building failed).
    """

    recipe: Recipe | None
    problems: list[str] = field(default_factory=list)
    lengths: list[LengthStats] = field(default_factory=list)
    train_datasets: dict[str, Dataset] = field(default_factory=dict, repr=False)
    eval_datasets: dict[str, Dataset] = field(default_factory=dict, repr=False)
    evaluators: list[SentenceEvaluator | None] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Problems, dataset sizes and length statistics as plain data (for JSON)."""
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "datasets": {name: len(data) for name, data in {**self.train_datasets, **self.eval_datasets}.items()},
            "lengths": [{**vars(stats), "truncated_share": stats.truncated_share} for stats in self.lengths],
        }

    def format_lengths(self) -> str:
        """The token-length histograms as text, one block per column."""
        blocks = []
        for stats in self.lengths:
            limit = "unknown" if stats.max_seq_length is None else str(stats.max_seq_length)
            lines = [
                f"{stats.dataset}.{stats.column}: {stats.count} texts, mean {stats.mean:.1f} tokens, max "
                f"{stats.maximum}; {stats.truncated} ({stats.truncated_share:.1%}) longer than "
                f"max_seq_length {limit}"
            ]
            top = max((count for _, count in stats.histogram), default=0) or 1
            lines += [
                f"  {label:>10} {count:>8} {'#' * round(30 * count / top)}" for label, count in stats.histogram if count
            ]
            blocks.append("\n".join(lines))
        return "\n".join(blocks)

    def __str__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def validate_recipe(
    path: str | Path, overrides: Sequence[str] = (), *, check_model: bool = True, show_progress: bool = False
) -> ValidationReport:
    """Validate the recipe file ``path`` with ``overrides``.

    Args:
        path: The YAML recipe.
        overrides: ``key.sub=value`` overrides.
        check_model: Load the model's tokenizer and config (for the token-length check). False skips the model
            entirely (data, loss and evaluator checks still run).
        show_progress: Show progress bars while loading and tokenizing.

    Returns:
        The report; ``report.ok`` is False when anything is wrong.
    """
    recipe, problems = read_recipe(path, overrides)
    report = ValidationReport(recipe=recipe, problems=list(problems))
    if recipe is None:
        return report
    tokenizer, max_length = _model_metadata(recipe.model, report.problems) if check_model else (None, None)
    if recipe.model.type not in FAMILIES:
        return report  # the schema problem is reported; nothing else can be checked against an unknown family
    report.problems += build.training_argument_problems(recipe.training, recipe.model.type)
    if not build.training_argument_problems(recipe.training, recipe.model.type):
        report.problems += _training_value_problems(recipe)
    _check_datasets(recipe, report, tokenizer, max_length, show_progress)
    if not recipe.train_datasets:
        report.problems.append("train_datasets is empty: add at least one dataset to train on")
    if len(recipe.train_datasets) > 1:
        report.problems += [
            f"eval_datasets.{name}: with several training datasets, an eval dataset must have a "
            "training dataset's name (it uses that dataset's loss); training datasets: "
            f"{list(recipe.train_datasets)}"
            for name in recipe.eval_datasets
            if name not in recipe.train_datasets
        ]
    report.evaluators = [
        _evaluator(spec, index, report.problems, show_progress, recipe.model.type)
        for index, spec in enumerate(recipe.evaluators)
    ]
    return report


def _check_datasets(
    recipe: Recipe, report: ValidationReport, tokenizer: Any, max_length: int | None, show_progress: bool
) -> None:
    """Load every dataset, check it against its loss and measure its token lengths, filling ``report``."""
    for split, specs, target in (
        ("train_datasets", recipe.train_datasets, report.train_datasets),
        ("eval_datasets", recipe.eval_datasets, report.eval_datasets),
    ):
        for name, spec in specs.items():
            loss_problems = _loss_spec_problems(recipe, name)
            report.problems += loss_problems
            dataset = _load(spec, f"{split}.{name}", report.problems)
            if dataset is None:
                continue
            target[name] = dataset
            if not loss_problems:
                report.problems += _dataset_problems(recipe, name, dataset, _source(spec))
            if tokenizer is not None:
                pairs = recipe.model.type == "cross-encoder"
                report.lengths += length_stats(tokenizer, max_length, name, dataset, show_progress, pairs)


def _load(spec: Any, where: str, problems: list[str]) -> Dataset | None:
    try:
        return load_data(spec, where)
    except _LOAD_ERRORS as error:
        problems.append(str(error) if where in str(error) else f"{where}: {error}")
        return None


# ------------------------------------------------------------------------------------------------ model
def _model_metadata(spec: ModelSpec, problems: list[str]) -> tuple[Any, int | None]:
    """The model's tokenizer and max_seq_length (from ``sentence_bert_config.json``, else the tokenizer/config)."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        location = build.resolve_model_path(spec)
    except ValueError as error:
        problems.append(str(error))
        return None, None
    folder = Path(location)
    if not folder.exists() and not looks_like_hub_id(location):
        problems.append(f"model.path: folder {location!r} does not exist")
        return None, None
    source = _transformer_folder(folder) if folder.is_dir() else location
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(source), revision=spec.revision, trust_remote_code=spec.trust_remote_code
        )
        config = AutoConfig.from_pretrained(
            str(source), revision=spec.revision, trust_remote_code=spec.trust_remote_code
        )
    except (OSError, ValueError) as error:
        problems.append(f"model: cannot load the tokenizer/config of {location!r}: {error}")
        return None, None
    if spec.max_seq_length is not None:
        return tokenizer, spec.max_seq_length
    limits = [getattr(config, "max_position_embeddings", None), tokenizer.model_max_length]
    saved = _read_json(Path(source) / "sentence_bert_config.json").get("max_seq_length") if folder.is_dir() else None
    known = [int(limit) for limit in limits if isinstance(limit, int) and 0 < limit < 1_000_000]
    return tokenizer, saved if isinstance(saved, int) else min(known, default=None)


def _transformer_folder(folder: Path) -> Path:
    """The folder of the model's first module (the transformer), per ``modules.json``; else ``folder``."""
    modules = _read_json(folder / "modules.json")
    if isinstance(modules, list) and modules and isinstance(modules[0], dict):
        return folder / str(modules[0].get("path", ""))
    return folder


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


# ------------------------------------------------------------------------------------- training, losses
def _training_value_problems(recipe: Recipe) -> list[str]:
    """Values TrainingArguments rejects, and evaluation steps with nothing to evaluate."""
    try:
        args = build.build_training_args(recipe, output_dir=Path(recipe.output_dir) / "_validate_only")
    except (ValueError, TypeError) as error:
        return [f"training: {error}"]
    during = [spec for spec in recipe.evaluators if "during" in spec.when]
    if args.eval_strategy != "no" and not during and not recipe.eval_datasets:
        return [
            f"training: eval_strategy={args.eval_strategy.value!r} needs an evaluator with 'when: [during]' or "
            "eval_datasets; add one, or set training.eval_strategy=no"
        ]
    return []


def _loss_problems(spec: LossSpec, where: str, family: str) -> list[str]:
    """Unknown loss names and argument names, through modifiers."""
    try:
        cls = build.loss_class(spec.name, family)
    except build.UnknownNameError as error:
        return [f"{where}: {error}"]
    from embedforge.losses.modifier import LossModifier

    skip = ("model", "embedding_dimension") + (("loss",) if spec.loss is not None else ())
    problems = [f"{where}: {message}" for message in build.unknown_arguments(cls, list(spec.args), skip=skip)]
    if issubclass(cls, LossModifier) and spec.loss is None:
        problems.append(f"{where}: {spec.name} wraps another loss; set its 'loss' (e.g. loss: {{name: CoSENTLoss}})")
    if spec.loss is not None:
        problems += _loss_problems(spec.loss, f"{where}.loss", family)
    return problems


def _declared_input_spec(spec: LossSpec, family: str) -> InputSpec | None:
    """The data declaration of a loss class (a modifier's comes from its wrapped loss), without a model."""
    from embedforge.losses.base import InputSpec
    from embedforge.losses.modifier import LossModifier

    cls = build.loss_class(spec.name, family)
    if issubclass(cls, LossModifier):
        return _declared_input_spec(spec.loss, family) if spec.loss is not None else None
    declared = getattr(cls, "input_spec", None)
    return declared if isinstance(declared, InputSpec) else None


def _loss_spec_problems(recipe: Recipe, name: str) -> list[str]:
    """The dataset's loss: present, known, with known argument names."""
    spec = build.loss_spec_for(recipe, name)
    if spec is None:
        return [f"dataset {name!r} has no loss: set the recipe's 'loss' or the dataset's 'loss'"]
    return _loss_problems(spec, f"loss of dataset {name!r}", recipe.model.type)


def _dataset_problems(recipe: Recipe, name: str, dataset: Dataset, source: str | None = None) -> list[str]:
    """The trainer's own data-vs-loss check, with a stand-in carrying the loss's declared inputs."""
    from embedforge.data.validation import check_dataset

    spec = build.loss_spec_for(recipe, name)
    if spec is None:
        return []
    problems = check_dataset(name, dataset, _stand_in(spec, recipe.model.type))
    return [str(dataclasses.replace(problem, source=source)) for problem in problems]


def _source(spec: DatasetSpec) -> str:
    """Where a dataset's rows come from, for messages: the file (or Hub id), and whether rows were filtered."""
    kind = "Hub dataset" if _format(spec) == "hub" else "file"
    filtered = " (row numbers count the rows kept by 'where')" if spec.where else ""
    return f"{kind} {spec.path}{filtered}"


def _format(spec: DatasetSpec) -> str | None:
    try:
        return resolve_format(spec)
    except DataError:
        return None


def _stand_in(spec: LossSpec, family: str) -> Loss:
    """A loss object with the name and data declaration of ``spec``'s class, built without a model."""
    from torch import nn

    from embedforge.losses.base import Loss

    declared = _declared_input_spec(spec, family)

    class _Declared(Loss):
        def __init__(self) -> None:
            nn.Module.__init__(self)

        def forward(self, sentence_features: Any, labels: Any) -> Any:
            raise NotImplementedError("a stand-in for checking data; it cannot compute a loss")

    if declared is None:  # a plain nn.Module loss: only the texts are checked
        return nn.Module()  # type: ignore[return-value]
    return type(spec.name, (_Declared,), {"input_spec": declared})()


# ------------------------------------------------------------------------------------------ evaluators
def _evaluator(
    spec: Any, index: int, problems: list[str], show_progress: bool, family: str
) -> SentenceEvaluator | None:
    where = f"evaluators.{index} ({spec.name})"
    try:
        cls = build.evaluator_class(spec.name, family)
    except build.UnknownNameError as error:
        problems.append(f"{where}: {error}")
        return None
    data_args = set(spec.inputs or build.DEFAULT_INPUTS.get(spec.name, {}))
    if spec.beir is not None:
        data_args = {"queries", "corpus", "relevant_docs"}
    unknown = build.unknown_arguments(cls, [*spec.args, *data_args])
    if unknown:
        problems += [f"{where}: {message}" for message in unknown]
        return None
    try:
        return build.build_evaluator(spec, show_progress=show_progress, family=family)
    except _LOAD_ERRORS as error:
        problems.append(f"{where}: {error}")
        return None
