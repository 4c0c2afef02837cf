"""NanoBEIREvaluator: InformationRetrievalEvaluator on several small retrieval sets, plus their aggregate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.beir import RetrievalData, load_beir, load_hub_subset
from embedforge.evaluation.information_retrieval import InformationRetrievalEvaluator, ScoreFunction, score_lines
from embedforge.evaluation.similarity import resolve_main_similarity
from embedforge.util.similarity_function import SimilarityFunction

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["DATASET_NAME_TO_HUMAN_READABLE", "NanoBEIREvaluator"]

logger = logging.getLogger(__name__)

DATASET_NAME_TO_HUMAN_READABLE = {
    "climatefever": "ClimateFEVER",
    "dbpedia": "DBPedia",
    "fever": "FEVER",
    "fiqa2018": "FiQA2018",
    "hotpotqa": "HotpotQA",
    "msmarco": "MSMARCO",
    "nfcorpus": "NFCorpus",
    "nq": "NQ",
    "quoraretrieval": "QuoraRetrieval",
    "scidocs": "SCIDOCS",
    "arguana": "ArguAna",
    "scifact": "SciFact",
    "touche2020": "Touche2020",
}
"""Short NanoBEIR dataset names to the names used in splits (``Nano<Name>``) and metric keys."""


class NanoBEIREvaluator(SentenceEvaluator):
    """Information retrieval on the NanoBEIR sets (or local BEIR folders), per dataset and aggregated.

    Each dataset gets an :class:`InformationRetrievalEvaluator` named ``Nano<Name>``; the aggregate applies
    ``aggregate_fn`` to every metric across datasets. Hub sets are read like sentence-transformers 6.2 does:
    ``datasets.load_dataset(dataset_id, "corpus" | "queries" | "qrels", split="Nano<Name>")``, dropping empty texts.

    Offline, pass local BEIR folders (``corpus.jsonl(.gz)``, ``queries.jsonl``, ``qrels/test.tsv``; see
    :mod:`embedforge.evaluation.beir`) as ``dataset_paths={"scifact": "../shared/data/scifact", "cranfield": ...}``:
    with ``dataset_names=None`` only those are evaluated; with both, the hub sets come first. A local set is
    named ``Nano<Name>`` too: the NanoBEIR spelling for a known name (``scifact`` -> ``NanoSciFact``), else the key
    with its first letter upper-cased (``cranfield`` -> ``NanoCranfield``).

    Metrics (keys and values match sentence-transformers 6.2), for the model's cosine similarity: per dataset the
    IR keys ``NanoSciFact_cosine_ndcg@10``, ``NanoSciFact_cosine_accuracy@1``...; then the aggregates
    ``NanoBEIR_mean_cosine_ndcg@10`` (primary), ... With ``truncate_dim=64`` names end in ``_64``
    (``NanoSciFact_64_cosine_ndcg@10``, ``NanoBEIR_mean_64_cosine_ndcg@10``).

    Args:
        dataset_names: NanoBEIR sets to load from the Hub (``climatefever``, ``dbpedia``, ``fever``, ``fiqa2018``,
            ``hotpotqa``, ``msmarco``, ``nfcorpus``, ``nq``, ``quoraretrieval``, ``scidocs``, ``arguana``,
            ``scifact``, ``touche2020``); None: all of them, or none when ``dataset_paths`` is given.
        dataset_id: Hub dataset with ``corpus``, ``queries`` and ``qrels`` subsets and ``Nano<Name>`` splits.
        mrr_at_k: Cut-offs for MRR.
        ndcg_at_k: Cut-offs for NDCG.
        accuracy_at_k: Cut-offs for accuracy.
        precision_recall_at_k: Cut-offs for precision and recall.
        map_at_k: Cut-offs for MAP.
        show_progress_bar: Show progress bars.
        batch_size: Texts per forward pass.
        write_csv: Write ``NanoBEIR_evaluation_<aggregate_key>_results.csv`` (and each dataset's CSV).
        truncate_dim: Keep the first dimensions of each embedding.
        score_functions: Name to scoring function; default: the model's similarity.
        main_score_function: Function whose NDCG is the primary metric.
        aggregate_fn: Combines one metric's per-dataset values, e.g. ``np.mean`` or ``np.median``.
        aggregate_key: Names the aggregate (``NanoBEIR_<aggregate_key>_...``).
        query_prompts: Prompt for the queries: one string for all sets, or a dict with an entry per dataset name.
        corpus_prompts: Prompt for the documents, like ``query_prompts``.
        write_predictions: Also write each dataset's ranked documents (JSONL).
        dataset_paths: Dataset name to a local BEIR folder (offline evaluation).

    Example:
        >>> evaluator = NanoBEIREvaluator(
        ...     dataset_names=None,
        ...     dataset_paths={"scifact": "../shared/data/scifact", "cranfield": "../shared/data/classic-ir/cranfield"},
        ... )
        >>> results = evaluator(model)  # doctest: +SKIP
        >>> evaluator.primary_metric, sorted(key for key in results if key.endswith("ndcg@10"))  # doctest: +SKIP
        ('NanoBEIR_mean_cosine_ndcg@10', ['NanoBEIR_mean_cosine_ndcg@10', 'NanoCranfield_cosine_ndcg@10', ...])
    """

    information_retrieval_class: type[InformationRetrievalEvaluator] = InformationRetrievalEvaluator

    def __init__(
        self,
        dataset_names: Sequence[str] | None = None,
        dataset_id: str = "sentence-transformers/NanoBEIR-en",
        mrr_at_k: Sequence[int] = (10,),
        ndcg_at_k: Sequence[int] = (10,),
        accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
        precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
        map_at_k: Sequence[int] = (100,),
        show_progress_bar: bool = False,
        batch_size: int = 32,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        score_functions: Mapping[str, ScoreFunction] | None = None,
        main_score_function: str | SimilarityFunction | None = None,
        aggregate_fn: Callable[[list[float]], float] = np.mean,
        aggregate_key: str = "mean",
        query_prompts: str | Mapping[str, str] | None = None,
        corpus_prompts: str | Mapping[str, str] | None = None,
        write_predictions: bool = False,
        dataset_paths: Mapping[str, str | Path] | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.dataset_paths = {name: Path(path) for name, path in (dataset_paths or {}).items()}
        if dataset_names is None:
            dataset_names = [] if self.dataset_paths else list(DATASET_NAME_TO_HUMAN_READABLE)
        _check_dataset_names(owner, list(dataset_names), self.dataset_paths)
        self.hub_dataset_names = list(dataset_names)
        self.dataset_names = [*self.hub_dataset_names, *self.dataset_paths]
        self.dataset_id = dataset_id
        self.mrr_at_k, self.ndcg_at_k, self.map_at_k = list(mrr_at_k), list(ndcg_at_k), list(map_at_k)
        self.accuracy_at_k, self.precision_recall_at_k = list(accuracy_at_k), list(precision_recall_at_k)
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.score_functions = score_functions
        self.score_function_names = sorted(score_functions or {})
        self.main_score_function = resolve_main_similarity(
            main_score_function, owner=owner, argument="main_score_function"
        )
        self.aggregate_fn = aggregate_fn
        self.aggregate_key = aggregate_key
        self.name = f"NanoBEIR_{aggregate_key}" + (f"_{truncate_dim}" if truncate_dim else "")
        self.query_prompts = _per_dataset_prompts(owner, "query_prompts", query_prompts, self.dataset_names)
        self.corpus_prompts = _per_dataset_prompts(owner, "corpus_prompts", corpus_prompts, self.dataset_names)
        self.csv_file = f"NanoBEIR_evaluation_{aggregate_key}_results.csv"
        ir_kwargs: dict[str, Any] = {
            "mrr_at_k": mrr_at_k,
            "ndcg_at_k": ndcg_at_k,
            "accuracy_at_k": accuracy_at_k,
            "precision_recall_at_k": precision_recall_at_k,
            "map_at_k": map_at_k,
            "show_progress_bar": show_progress_bar,
            "batch_size": batch_size,
            "write_csv": write_csv,
            "truncate_dim": truncate_dim,
            "score_functions": score_functions,
            "main_score_function": main_score_function,
            "write_predictions": write_predictions,
        }
        self.evaluators = [self._build_evaluator(name, ir_kwargs) for name in self.dataset_names]
        evaluator_names = [evaluator.name for evaluator in self.evaluators]
        if len(set(evaluator_names)) != len(evaluator_names):
            raise ValueError(
                f"{owner}: datasets {self.dataset_names} give repeated names {evaluator_names}. "
                "Give each dataset a distinct name."
            )

    @property
    def csv_headers(self) -> list[str]:
        """Columns of the CSV file, as for :class:`InformationRetrievalEvaluator` (same score functions)."""
        return self.evaluators[0].csv_headers

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Evaluate every dataset, then aggregate each metric across datasets.

        Args:
            model: The model to evaluate.
            output_path: Folder for the CSV files; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            Every dataset's metrics, then the aggregates (keys prefixed ``NanoBEIR_<aggregate_key>``).
        """
        reporting.log_start(type(self).__name__, str(self.dataset_names), epoch, steps, self.truncate_dim)
        per_dataset: dict[str, float] = {}
        per_metric: dict[str, list[float]] = {}
        for evaluator in self.evaluators:
            reporting.log_metrics([f"Evaluating {evaluator.name}"])
            for key, value in evaluator(model, output_path, epoch, steps).items():
                per_dataset[key] = value
                per_metric.setdefault(key.removeprefix(f"{evaluator.name}_"), []).append(value)
        names = self.evaluators[0].score_function_names
        if names != self.score_function_names:
            self.score_function_names = list(names)
            self.primary_metric = None
        aggregated = {metric: float(self.aggregate_fn(values)) for metric, values in per_metric.items()}
        if output_path is not None and self.write_csv:
            row = self.evaluators[0].csv_row(_nest(aggregated))
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *row])
        if not self.primary_metric:
            self.primary_metric = self.evaluators[0].select_primary_metric(_nest(aggregated))
        self._log_aggregates(aggregated)
        return {**per_dataset, **self.publish_metrics(model, aggregated, epoch, steps)}

    def _log_aggregates(self, aggregated: Mapping[str, float]) -> None:
        """Log the average sizes and the aggregated metrics of each score function."""
        queries = np.mean([len(evaluator.queries) for evaluator in self.evaluators])
        corpus = np.mean([len(evaluator.corpus) for evaluator in self.evaluators])
        lines = [f"Average Queries: {queries}", f"Average Corpus: {corpus}\n"]
        for fn in self.score_function_names:
            lines.append(f"Aggregated for Score Function: {fn}")
            lines += score_lines(_nest(aggregated)[fn])
        reporting.log_metrics(lines)

    def store_metrics_in_model_card_data(
        self, model: EmbeddingModel, metrics: Mapping[str, Any], epoch: float = 0, step: int = 0
    ) -> None:
        """Record the aggregates in the model card only with several datasets (one would repeat its metrics)."""
        if len(self.dataset_names) > 1:
            super().store_metrics_in_model_card_data(model, metrics, epoch, step)

    def get_config_dict(self) -> dict[str, Any]:
        """``dataset_names``, ``dataset_id``, and ``truncate_dim``, prompts and local ``dataset_paths`` when set.

        Returns:
            Attribute name to value.
        """
        config: dict[str, Any] = {"dataset_names": self.dataset_names, "dataset_id": self.dataset_id}
        for key in ("truncate_dim", "query_prompts", "corpus_prompts"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        if self.dataset_paths:
            config["dataset_paths"] = {name: str(path) for name, path in self.dataset_paths.items()}
        return config

    def _human_readable_name(self, dataset_name: str) -> str:
        """``Nano<Name>`` (``_<truncate_dim>`` appended when set)."""
        default = dataset_name[:1].upper() + dataset_name[1:]
        readable = DATASET_NAME_TO_HUMAN_READABLE.get(dataset_name.lower(), default)
        return f"Nano{readable}" + (f"_{self.truncate_dim}" if self.truncate_dim is not None else "")

    def _build_evaluator(self, dataset_name: str, ir_kwargs: dict[str, Any]) -> InformationRetrievalEvaluator:
        """The IR evaluator of one dataset, read from its local folder or from the Hub."""
        if dataset_name in self.dataset_paths:
            data = _without_empty_texts(load_beir(self.dataset_paths[dataset_name]))
        else:
            data = self._load_hub_dataset(dataset_name)
        prompts = {
            "query_prompt": (self.query_prompts or {}).get(dataset_name),
            "corpus_prompt": (self.corpus_prompts or {}).get(dataset_name),
        }
        return self.information_retrieval_class(
            queries=data.queries,
            corpus=data.corpus,
            relevant_docs=data.relevant_docs,
            name=self._human_readable_name(dataset_name),
            **ir_kwargs,
            **prompts,
        )

    def _load_hub_dataset(self, dataset_name: str) -> RetrievalData:
        """Read the ``Nano<Name>`` split of the corpus, queries and qrels subsets of ``dataset_id``."""
        split = f"Nano{DATASET_NAME_TO_HUMAN_READABLE[dataset_name.lower()]}"
        corpus = self._load_subset("corpus", split, ["_id", "text"])
        queries = self._load_subset("queries", split, ["_id", "text"])
        qrels = self._load_subset("qrels", split, ["query-id", "corpus-id"])
        relevant_docs: dict[str, set[str]] = {}
        for row in qrels:
            ids = row["corpus-id"]
            relevant_docs.setdefault(row["query-id"], set()).update(ids if isinstance(ids, list) else [ids])
        return RetrievalData(
            queries={row["_id"]: row["text"] for row in queries if len(row["text"]) > 0},
            corpus={row["_id"]: row["text"] for row in corpus if len(row["text"]) > 0},
            relevant_docs=relevant_docs,
        )

    def _load_subset(self, subset: str, split: str, required_columns: list[str]) -> Any:
        """``load_dataset(dataset_id, subset, split=split)``, checked for the required columns."""
        return load_hub_subset(
            type(self).__name__, self.dataset_id, subset, split, required_columns, "evaluate local BEIR folders"
        )


def _nest(aggregated: Mapping[str, float]) -> dict[str, dict[str, dict[int, float]]]:
    """``{"cosine_ndcg@10": v}`` to ``{"cosine": {"ndcg@k": {10: v}}}`` (the IR evaluator's score layout)."""
    nested: dict[str, dict[str, dict[int, float]]] = {}
    for key, value in aggregated.items():
        fn, _, metric = key.rpartition("_")
        kind, _, k = metric.partition("@")
        nested.setdefault(fn, {}).setdefault(f"{kind}@k", {})[int(k)] = value
    return nested


def _without_empty_texts(data: RetrievalData) -> RetrievalData:
    """Drop empty queries and documents, as the Hub loader does."""
    return RetrievalData(
        queries={key: text for key, text in data.queries.items() if text},
        corpus={key: text for key, text in data.corpus.items() if text},
        relevant_docs=data.relevant_docs,
    )


def _check_dataset_names(owner: str, names: list[str], paths: Mapping[str, Path]) -> None:
    """Hub names must be NanoBEIR names; some dataset must be given; hub and local names must not clash."""
    if not names and not paths:
        raise ValueError(
            f"{owner}: `dataset_names` cannot be empty. Use None to evaluate on all NanoBEIR datasets, "
            "or pass local BEIR folders as dataset_paths={name: folder}."
        )
    unknown = [name for name in names if name.lower() not in DATASET_NAME_TO_HUMAN_READABLE]
    if unknown:
        raise ValueError(
            f"{owner}: dataset(s) {unknown} are not NanoBEIR datasets; valid names are "
            f"{list(DATASET_NAME_TO_HUMAN_READABLE)}. For a local BEIR folder use "
            "dataset_paths={name: folder} instead."
        )
    clash = sorted(set(names) & set(paths))
    if clash:
        raise ValueError(
            f"{owner}: {clash} are in both `dataset_names` (Hub) and `dataset_paths` (local). "
            "Keep each dataset in one of them."
        )


def _per_dataset_prompts(
    owner: str, argument: str, prompts: str | Mapping[str, str] | None, dataset_names: list[str]
) -> dict[str, str] | None:
    """One prompt per dataset name (a single string applies to all); a dict must cover every dataset."""
    if prompts is None:
        return None
    if isinstance(prompts, str):
        return dict.fromkeys(dataset_names, prompts)
    missing = [name for name in dataset_names if name not in prompts]
    if missing:
        raise ValueError(
            f"{owner}: `{argument}` has no prompt for the datasets {missing}. Add an entry for each "
            "dataset, or pass one string for all of them."
        )
    return dict(prompts)
