"""``embedforge evaluate MODEL``: run evaluators on a model, from a recipe or from data-file flags.

Evaluator sources (any mix; several evaluators run as one ``SequentialEvaluator``, which adds
``sequential_score``, the last evaluator's primary metric):

- ``--recipe RECIPE.yaml [KEY=VALUE ...]``: the evaluators of a training recipe (see ``recipes/``), with the
  recipe overrides that ``embedforge train`` takes; ``--stage`` keeps those of one stage.
- ``--sts FILE``: ``EmbeddingSimilarityEvaluator`` on columns ``sentence1``, ``sentence2``, ``score`` (scores are
  used as they are; Spearman/Pearson do not depend on their scale); for a cross-encoder,
  ``CrossEncoderCorrelationEvaluator`` on the same columns.
- ``--triplets FILE``: ``TripletEvaluator`` on columns ``anchor``, ``positive``, ``negative``.
- ``--beir FOLDER``: ``InformationRetrievalEvaluator`` on a local BEIR folder (``corpus.jsonl(.gz)``,
  ``queries.jsonl``, ``qrels/<split>.tsv``).

``--truncate-dim DIM`` keeps the first DIM dimensions of every embedding (a bi-encoder's ``truncate_dim``, e.g. for
a Matryoshka model); without it, a recipe's ``model.truncate_dim`` applies. An evaluator whose own ``truncate_dim``
is set (a recipe's ``args.truncate_dim``) keeps it.

The model's family is read from its folder (``config_sentence_transformers.json``; a plain
``*ForSequenceClassification`` checkpoint is a cross-encoder); ``--triplets`` and ``--beir`` need a bi-encoder
(re-rank retrieval results with ``embedforge rank``). Files may be ``.csv``, ``.tsv`` or ``.jsonl`` (``.gz`` too).
Each evaluator is named after its file (``test.csv`` in folder ``stsb`` gives ``stsb-test``), and its metric keys
start with that name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.cli.output import Console, add_output_options

if TYPE_CHECKING:
    from embedforge.config.recipe import Recipe
    from embedforge.evaluation import SentenceEvaluator
    from embedforge.model.base import BaseModel

__all__ = ["add_parser", "dataset_name", "flag_evaluators", "run"]

SPLIT_NAMES = ("train", "dev", "validation", "valid", "test")
"""File stems that are prefixed with their folder's name to name an evaluator (``stsb/test.csv`` → ``stsb-test``)."""

EXAMPLES = """examples:
  embedforge evaluate ./my-model --sts ../shared/data/stsb/test.csv
  embedforge evaluate ./my-model --sts sts.csv --triplets triplets.csv --batch-size 64 --output-path results/
  embedforge evaluate ./my-model --beir ../shared/data/scifact --limit 100
  embedforge evaluate ./matryoshka-model --sts ../shared/data/stsb/test.csv --truncate-dim 64
  embedforge evaluate ./my-model --recipe recipes/stsb.yaml
  embedforge evaluate ./my-model --recipe recipes/stsb.yaml evaluators.0.args.batch_size=64 --json
  embedforge evaluate output/ce_stsb/final --sts ../shared/data/stsb/test.csv     # a cross-encoder
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``evaluate`` and its options."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model with a recipe's evaluators or on STS / triplet / BEIR data",
        description="Run evaluators on MODEL and print every metric: the evaluators of a recipe (--recipe) and/or "
        "evaluators built from data files (--sts, --triplets, --beir; each may be repeated). Several evaluators "
        "run as one SequentialEvaluator. Files may be .csv, .tsv or .jsonl (.gz allowed).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model folder or Hugging Face Hub id")
    _add_source_options(parser)
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default: 32)")
    parser.add_argument(
        "--truncate-dim",
        type=int,
        metavar="DIM",
        help="keep the first DIM dimensions of every embedding (bi-encoders; default: the recipe's "
        "model.truncate_dim, else all)",
    )
    parser.add_argument("--output-path", metavar="DIR", help="folder for the evaluators' CSV result files")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps ... (default: the best available)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow code shipped with the model to run")
    add_output_options(parser)


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    """The options naming what to evaluate on: a recipe, data files, BEIR folders."""
    parser.add_argument(
        "--recipe",
        nargs="+",
        metavar=("RECIPE.yaml", "KEY=VALUE"),
        help="run the evaluators of this recipe, after applying the KEY=VALUE overrides (e.g. "
        "evaluators.0.args.batch_size=64)",
    )
    parser.add_argument(
        "--stage",
        choices=("before", "during", "after"),
        help="with --recipe: only the evaluators the recipe runs at this stage (default: all)",
    )
    parser.add_argument(
        "--sts",
        action="append",
        default=[],
        metavar="FILE",
        help="EmbeddingSimilarityEvaluator on columns sentence1, sentence2, score",
    )
    parser.add_argument(
        "--triplets",
        action="append",
        default=[],
        metavar="FILE",
        help="TripletEvaluator on columns anchor, positive, negative",
    )
    parser.add_argument(
        "--beir",
        action="append",
        default=[],
        metavar="FOLDER",
        help="InformationRetrievalEvaluator on a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)",
    )
    parser.add_argument(
        "--beir-split",
        default="test",
        metavar="SPLIT",
        help="qrels file of the BEIR folders: qrels/SPLIT.tsv (default: test)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="use the first N rows of each --sts/--triplets file and the first N judged queries of "
        "each --beir folder (whose corpus stays whole)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the evaluators, load the model, evaluate and print the metrics (a ``metrics`` event in JSON mode).

    Returns:
        0 on success, 1 when data, recipe or model cannot be used (the error says why), 2 for bad arguments.
    """
    console = Console.from_args(args)
    problem = _usage_problem(args)
    if problem:
        console.error(problem)
        return 2
    try:
        recipe = _load_recipe(args) if args.recipe else None
        model = _load_model(args, console)
        _set_truncate_dim(model, args.truncate_dim or (recipe.model.truncate_dim if recipe else None), console)
        evaluators = flag_evaluators(args, console, cross_encoder=model.model_type == "CrossEncoder")
        if recipe is not None:
            evaluators = _recipe_evaluators(recipe, model, args, console) + evaluators
    except (OSError, ValueError, KeyError) as error:
        console.error(str(error))
        return 1
    if not evaluators:
        stage = f" for stage {args.stage!r}" if args.stage else ""
        console.error(
            f"The recipe {args.recipe[0]} defines no evaluators{stage}. Add some to it, or pass --sts, "
            "--triplets or --beir."
        )
        return 1
    from embedforge.evaluation import SequentialEvaluator

    evaluator = evaluators[0] if len(evaluators) == 1 else SequentialEvaluator(evaluators)
    if args.output_path:
        Path(args.output_path).mkdir(parents=True, exist_ok=True)
    console.info(f"Evaluating with {len(evaluators)} evaluator(s) ...")
    metrics = evaluator(model, output_path=args.output_path)
    console.metrics("eval", metrics)
    return 0


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments as a whole, or None."""
    if not (args.recipe or args.sts or args.triplets or args.beir):
        return "Nothing to evaluate: pass --recipe RECIPE.yaml, or data with --sts, --triplets or --beir."
    if args.stage and not args.recipe:
        return "--stage selects among a recipe's evaluators; pass --recipe too, or drop --stage."
    bad = next((item for item in (args.recipe or [])[1:] if "=" not in item), None)
    if bad is not None:
        return (
            f"--recipe takes the recipe file then KEY=VALUE overrides; {bad!r} is not KEY=VALUE (e.g. "
            "evaluators.0.args.batch_size=64). Put MODEL before --recipe."
        )
    for option in ("limit", "batch_size", "truncate_dim"):
        value = getattr(args, option)
        if value is not None and value < 1:
            return f"--{option.replace('_', '-')} must be a positive integer, got {value}."
    return None


def _load_recipe(args: argparse.Namespace) -> Recipe:
    """The recipe at ``args.recipe`` with the overrides applied."""
    from embedforge.config.recipe import load_recipe

    return load_recipe(args.recipe[0], args.recipe[1:])


def _load_model(args: argparse.Namespace, console: Console) -> BaseModel:
    """The model to evaluate, of the family its folder names."""
    from embedforge.model.loading import load_model

    console.info(f"Loading model {args.model} ...")
    return load_model(args.model, device=args.device, trust_remote_code=args.trust_remote_code)


def _set_truncate_dim(model: BaseModel, truncate_dim: int | None, console: Console) -> None:
    """Make every embedding of ``model`` keep its first ``truncate_dim`` dimensions (None: leave it as loaded)."""
    from embedforge.model.sentence_transformer import SentenceTransformer

    if truncate_dim is None:
        return
    if not isinstance(model, SentenceTransformer):
        raise ValueError(
            f"--truncate-dim {truncate_dim} truncates embeddings, but this model is a {model.model_type}, which "
            "outputs no embeddings to truncate. Drop --truncate-dim (and model.truncate_dim from the recipe)."
        )
    console.info(f"Truncating embeddings to their first {truncate_dim} dimensions")
    model.truncate_dim = truncate_dim


def _recipe_evaluators(
    recipe: Recipe, model: BaseModel, args: argparse.Namespace, console: Console
) -> list[SentenceEvaluator]:
    """The recipe's evaluators; the recipe's model family must be the model's."""
    from embedforge.config.build import build_evaluators
    from embedforge.config.families import recipe_family

    family = recipe_family(recipe.model.type)
    if not isinstance(model, family.load("model")):
        raise ValueError(
            f"The recipe evaluates a {recipe.model.type} (model.type), but {args.model} is a "
            f"{type(model).__name__}. Evaluate it with a recipe of its family."
        )
    return list(build_evaluators(recipe, model=model, when=args.stage, show_progress=console.show_progress))


# ------------------------------------------------------------------------------------- evaluators from flags
def flag_evaluators(args: argparse.Namespace, console: Console, cross_encoder: bool = False) -> list[SentenceEvaluator]:
    """The evaluators of ``--sts``, ``--triplets`` and ``--beir``, in that order, with unique names.

    Args:
        args: The parsed arguments.
        console: Where progress goes.
        cross_encoder: Build the cross-encoder evaluators (``--sts`` only).

    Raises:
        FileNotFoundError: For a missing file or folder.
        ValueError: For missing columns, bad values or too few rows, or flags a cross-encoder cannot take.
    """
    if cross_encoder and (args.triplets or args.beir):
        raise ValueError(
            "--triplets and --beir evaluate a bi-encoder's embeddings; this model is a cross-encoder. "
            "Use --sts, or re-rank a bi-encoder's retrieval with `embedforge rank --reranker MODEL "
            "--retriever BI_ENCODER --beir FOLDER`."
        )
    builders: list[tuple[str, str, Callable[..., SentenceEvaluator]]] = [
        *(("STS", path, _ce_sts_evaluator if cross_encoder else _sts_evaluator) for path in args.sts),
        *(("triplets", path, _triplet_evaluator) for path in args.triplets),
        *(("BEIR", path, _beir_evaluator) for path in args.beir),
    ]
    used: set[str] = set()
    evaluators = []
    for kind, path, build in builders:
        name = dataset_name(Path(path))
        while name in used:
            name += "_"
        used.add(name)
        evaluator, size = build(Path(path), name, args, console.show_progress)
        console.info(f"{kind} {name}: {size} from {path}", evaluator=type(evaluator).__name__, name=name)
        evaluators.append(evaluator)
    return evaluators


def dataset_name(path: Path) -> str:
    """An evaluator name for a data file or folder: its stem, prefixed with the folder for split names."""
    stem = path.name
    for suffix in (".gz", ".csv", ".tsv", ".jsonl"):
        stem = stem.removesuffix(suffix)
    if stem.lower() in SPLIT_NAMES and path.resolve().parent.name:
        return f"{path.resolve().parent.name}-{stem}"
    return stem


def _columns(path: Path, names: tuple[str, ...], limit: int | None) -> list[list[Any]]:
    """The values of columns ``names`` of a CSV/TSV/JSONL file (first ``limit`` rows)."""
    from embedforge.cli.encode import read_table

    table = read_table(path)
    return [table.column(name)[:limit] for name in names]


def _sts_columns(path: Path, limit: int | None) -> tuple[list[Any], list[Any], list[float]]:
    sentences1, sentences2, raw_scores = _columns(path, ("sentence1", "sentence2", "score"), limit)
    scores = []
    for row, value in enumerate(raw_scores, start=1):
        try:
            scores.append(float(value))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{path}: row {row} has score {value!r}, expected a number. Fix or remove that row."
            ) from error
    return sentences1, sentences2, scores


def _sts_evaluator(path: Path, name: str, args: argparse.Namespace, progress: bool) -> tuple[SentenceEvaluator, str]:
    from embedforge.evaluation import EmbeddingSimilarityEvaluator

    sentences1, sentences2, scores = _sts_columns(path, args.limit)
    evaluator = EmbeddingSimilarityEvaluator(
        sentences1, sentences2, scores, batch_size=args.batch_size, name=name, show_progress_bar=progress
    )
    return evaluator, f"{len(scores)} pairs"


def _ce_sts_evaluator(path: Path, name: str, args: argparse.Namespace, progress: bool) -> tuple[SentenceEvaluator, str]:
    from embedforge.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator

    sentences1, sentences2, scores = _sts_columns(path, args.limit)
    pairs = list(zip(sentences1, sentences2, strict=True))
    evaluator = CrossEncoderCorrelationEvaluator(
        pairs, scores, name=name, batch_size=args.batch_size, show_progress_bar=progress
    )
    return evaluator, f"{len(scores)} pairs"


def _triplet_evaluator(
    path: Path, name: str, args: argparse.Namespace, progress: bool
) -> tuple[SentenceEvaluator, str]:
    from embedforge.evaluation import TripletEvaluator

    anchors, positives, negatives = _columns(path, ("anchor", "positive", "negative"), args.limit)
    evaluator = TripletEvaluator(
        anchors, positives, negatives, batch_size=args.batch_size, name=name, show_progress_bar=progress
    )
    return evaluator, f"{len(anchors)} triplets"


def _beir_evaluator(path: Path, name: str, args: argparse.Namespace, progress: bool) -> tuple[SentenceEvaluator, str]:
    import embedforge.evaluation
    from embedforge.evaluation.beir import load_beir

    evaluator_class = getattr(embedforge.evaluation, "InformationRetrievalEvaluator", None)
    if evaluator_class is None:
        raise ValueError(
            "This embedforge has no InformationRetrievalEvaluator in embedforge.evaluation, which "
            "--beir needs. Update embedforge, or evaluate with --sts / --triplets."
        )
    data = load_beir(path, split=args.beir_split)
    judged = [query_id for query_id in data.queries if data.relevant_docs.get(query_id)][: args.limit]
    queries = {query_id: data.queries[query_id] for query_id in judged}
    relevant_docs = {query_id: data.relevant_docs[query_id] for query_id in judged}
    evaluator = evaluator_class(
        queries=queries,
        corpus=data.corpus,
        relevant_docs=relevant_docs,
        name=name,
        batch_size=args.batch_size,
        show_progress_bar=progress,
    )
    return evaluator, f"{len(queries)} queries, {len(data.corpus)} documents"
