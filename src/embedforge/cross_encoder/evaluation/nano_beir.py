"""CrossEncoderNanoBEIREvaluator: rerank first-stage rankings of the NanoBEIR sets (or local BEIR folders)."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.cross_encoder.evaluation.reranking import CrossEncoderRerankingEvaluator, score_lines
from embedforge.evaluation import reporting
from embedforge.evaluation.arguments import positive_int
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.beir import RetrievalData, load_beir, load_hub_subset
from embedforge.evaluation.nano_beir import DATASET_NAME_TO_HUMAN_READABLE, _check_dataset_names

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel
    from embedforge.model.sentence_transformer import SentenceTransformer

__all__ = ["DEFAULT_DATASET_NAMES", "RUN_FILE", "CrossEncoderNanoBEIREvaluator"]

logger = logging.getLogger(__name__)

DEFAULT_DATASET_NAMES = [name for name in DATASET_NAME_TO_HUMAN_READABLE if name not in ("arguana", "touche2020")]
"""The NanoBEIR sets evaluated by default: all but the argument-retrieval ones (arguana, touche2020)."""
RUN_FILE = "bm25.jsonl"
"""First-stage ranking of a local BEIR folder (or its ``.gz``): one ``{"query-id", "corpus-ids"}`` line per query."""

Ranking = list[tuple[str, list[str]]]
"""Per query: its id and the corpus ids of its first-stage ranking, best first."""


class CrossEncoderNanoBEIREvaluator(SentenceEvaluator):
    """Rerank the top ``rerank_k`` first-stage documents of each NanoBEIR query; per dataset and aggregated.

    Each dataset becomes a :class:`CrossEncoderRerankingEvaluator` named ``Nano<Name>_R<rerank_k>`` whose samples
    are ``{"query", "positive": judged documents, "documents": first-stage top rerank_k}``, so it reports the
    reranked ``map``, ``mrr@{at_k}``, ``ndcg@{at_k}`` and the first stage's ``base_*`` values
    (``NanoSciFact_R100_ndcg@10``...). Each metric is then aggregated over the datasets with ``aggregate_fn``:
    ``NanoBEIR_R{rerank_k}_{aggregate_key}_ndcg@{at_k}`` (primary), ... Keys and values match
    sentence-transformers 6.2.

    Where the data comes from:

    - **Hub** (``dataset_names``, as sentence-transformers): ``datasets.load_dataset(dataset_id, subset,
      split="Nano<Name>")`` for the ``corpus``, ``queries``, ``qrels`` and ``bm25`` subsets; the first stage is the
      ``bm25`` subset's ``corpus-ids``.
    - **Local BEIR folders** (``dataset_paths={name: folder}``, offline): ``corpus.jsonl(.gz)``, ``queries.jsonl``
      and ``qrels/test.tsv`` (see :mod:`embedforge.evaluation.beir`). The first stage is the folder's
      ``bm25.jsonl(.gz)`` (the Hub's ``bm25`` subset as JSON lines: ``{"query-id": "1", "corpus-ids": ["184",
      "29", ...]}``, best first; any first-stage system's run fits), or, when ``retriever`` is given, the top
      ``rerank_k`` documents of the corpus ranked by that bi-encoder (its own similarity; ties by corpus id),
      computed once here. Only queries with relevant documents are evaluated. A local set is named
      ``Nano<Name>`` too: the NanoBEIR spelling for a known name (``scifact`` -> ``NanoSciFact``), else the key with
      its first letter upper-cased (``cranfield`` -> ``NanoCranfield``).

    With ``dataset_names=None`` the Hub sets are all but arguana and touche2020, or none when ``dataset_paths`` is
    given; with both, the Hub sets come first.

    Args:
        dataset_names: NanoBEIR sets to load from the Hub (``climatefever``, ``dbpedia``, ``fever``, ``fiqa2018``,
            ``hotpotqa``, ``msmarco``, ``nfcorpus``, ``nq``, ``quoraretrieval``, ``scidocs``, ``arguana``,
            ``scifact``, ``touche2020``).
        dataset_id: Hub dataset with the four subsets and ``Nano<Name>`` splits.
        rerank_k: First-stage documents reranked per query.
        at_k: Rank cut-off of MRR and NDCG.
        always_rerank_positives: Also rerank judged documents the first stage missed (the scores can then reach
            1.0); False reranks only the first stage's documents.
        prompt_name: Key of the model's ``prompts`` put before each query.
        batch_size: Pairs per forward pass (and texts per bi-encoder batch with ``retriever``).
        show_progress_bar: Show progress bars.
        write_csv: Write ``NanoBEIR_evaluation_<aggregate_key>_results.csv`` (and each dataset's CSV).
        aggregate_fn: Combines one metric's per-dataset values, e.g. ``np.mean`` or ``np.median``.
        aggregate_key: Names the aggregate (``NanoBEIR_R100_<aggregate_key>_...``).
        dataset_paths: Dataset name to a local BEIR folder.
        retriever: Bi-encoder that ranks each local folder's corpus (instead of its ``bm25.jsonl``).

    Example:
        >>> evaluator = CrossEncoderNanoBEIREvaluator(  # doctest: +SKIP
        ...     dataset_paths={"scifact": "data/scifact", "cranfield": "data/classic-ir/cranfield"},
        ...     retriever=SentenceTransformer("all-MiniLM-L6-v2"),
        ... )
        >>> results = evaluator(cross_encoder)  # doctest: +SKIP
        >>> evaluator.primary_metric  # doctest: +SKIP
        'NanoBEIR_R100_mean_ndcg@10'
    """

    def __init__(
        self,
        dataset_names: Sequence[str] | None = None,
        dataset_id: str = "sentence-transformers/NanoBEIR-en",
        rerank_k: int = 100,
        at_k: int = 10,
        always_rerank_positives: bool = True,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        write_csv: bool = True,
        aggregate_fn: Callable[[list[float]], float] = np.mean,
        aggregate_key: str = "mean",
        dataset_paths: Mapping[str, str | Path] | None = None,
        retriever: SentenceTransformer | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.dataset_paths = {name: Path(path) for name, path in (dataset_paths or {}).items()}
        if dataset_names is None:
            dataset_names = [] if self.dataset_paths else DEFAULT_DATASET_NAMES
        elif not dataset_names and not self.dataset_paths:
            raise ValueError(
                f"{owner}: `dataset_names` cannot be empty. Use None for the default NanoBEIR datasets "
                f"{DEFAULT_DATASET_NAMES}, or pass local BEIR folders as dataset_paths={{name: folder}}."
            )
        if retriever is not None and not self.dataset_paths:
            raise ValueError(
                f"{owner}: `retriever` ranks the corpora of local BEIR folders, but no `dataset_paths` "
                "were given (Hub datasets come with their bm25 ranking). Pass dataset_paths={name: "
                "folder}, or drop `retriever`."
            )
        _check_dataset_names(owner, list(dataset_names), self.dataset_paths)
        self.dataset_names = [*dataset_names, *self.dataset_paths]
        self.dataset_id = dataset_id
        self.rerank_k = positive_int(owner, "rerank_k", rerank_k)
        self.at_k = positive_int(owner, "at_k", at_k)
        self.always_rerank_positives = always_rerank_positives
        self.prompt_name = prompt_name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.aggregate_fn = aggregate_fn
        self.aggregate_key = aggregate_key
        self.retriever = retriever
        self.name = f"NanoBEIR_R{self.rerank_k}_{aggregate_key}"
        self.evaluators = [self._build_evaluator(name) for name in self.dataset_names]
        evaluator_names = [evaluator.name for evaluator in self.evaluators]
        if len(set(evaluator_names)) != len(evaluator_names):
            raise ValueError(
                f"{owner}: datasets {self.dataset_names} give repeated names {evaluator_names}. "
                "Give each dataset a distinct name."
            )
        self.csv_file = f"NanoBEIR_evaluation_{aggregate_key}_results.csv"
        self.csv_headers = ["epoch", "steps", "MAP", f"MRR@{self.at_k}", f"NDCG@{self.at_k}"]
        self.primary_metric = f"{self.name}_ndcg@{self.at_k}"

    def __call__(
        self, model: ScoringModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Rerank every dataset, then aggregate each metric across datasets.

        Args:
            model: The cross-encoder to evaluate (one output label).
            output_path: Folder for the CSV files; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            Every dataset's metrics, then the aggregates (keys prefixed ``NanoBEIR_R<rerank_k>_<aggregate_key>``).
        """
        reporting.log_start(type(self).__name__, str(self.dataset_names), epoch, steps)
        per_dataset: dict[str, float] = {}
        per_metric: dict[str, list[float]] = {}
        for evaluator in self.evaluators:
            reporting.log_metrics([f"Evaluating {evaluator.name}"])
            for key, value in evaluator(model, output_path, epoch, steps).items():
                per_dataset[key] = value
                per_metric.setdefault(key.removeprefix(f"{evaluator.name}_"), []).append(value)
        aggregated = {metric: float(self.aggregate_fn(values)) for metric, values in per_metric.items()}
        if output_path is not None and self.write_csv:
            row = [aggregated[key] for key in ("map", f"mrr@{self.at_k}", f"ndcg@{self.at_k}")]
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *row])
        reranked = {key: value for key, value in aggregated.items() if not key.startswith("base_")}
        base = {key: value for key, value in aggregated.items() if key.startswith("base_")}
        reporting.log_metrics([f"{type(self).__name__}: Aggregated Results:", *score_lines(reranked, base, self.at_k)])
        return {**per_dataset, **self.publish_metrics(model, aggregated, epoch, steps)}

    def get_config_dict(self) -> dict[str, Any]:
        """Datasets, ``rerank_k``, ``at_k``, ``always_rerank_positives``, and local ``dataset_paths`` when set.

        Returns:
            Attribute name to value.
        """
        config: dict[str, Any] = {
            "dataset_names": self.dataset_names,
            "dataset_id": self.dataset_id,
            "rerank_k": self.rerank_k,
            "at_k": self.at_k,
            "always_rerank_positives": self.always_rerank_positives,
        }
        if self.dataset_paths:
            config["dataset_paths"] = {name: str(path) for name, path in self.dataset_paths.items()}
        return config

    def _build_evaluator(self, dataset_name: str) -> CrossEncoderRerankingEvaluator:
        """The reranking evaluator of one dataset, read from its local folder or from the Hub."""
        if dataset_name in self.dataset_paths:
            folder = self.dataset_paths[dataset_name]
            data = load_beir(folder)
            ranking = read_run_file(folder) if self.retriever is None else self._retrieve(data, self.retriever)
            source = str(folder)
        else:
            data, ranking = self._load_hub_dataset(dataset_name)
            source = f"{self.dataset_id} ({dataset_name})"
        readable = DATASET_NAME_TO_HUMAN_READABLE.get(dataset_name.lower(), dataset_name[:1].upper() + dataset_name[1:])
        return CrossEncoderRerankingEvaluator(
            samples=rerank_samples(type(self).__name__, source, data, ranking, self.rerank_k),
            name=f"Nano{readable}_R{self.rerank_k}",
            at_k=self.at_k,
            always_rerank_positives=self.always_rerank_positives,
            prompt_name=self.prompt_name,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            write_csv=self.write_csv,
        )

    def _retrieve(self, data: RetrievalData, retriever: SentenceTransformer) -> Ranking:
        """The top ``rerank_k`` corpus ids of each judged query, ranked by the ``retriever`` bi-encoder."""
        from embedforge.evaluation.information_retrieval import InformationRetrievalEvaluator

        depth = [self.rerank_k]
        ranker = InformationRetrievalEvaluator(
            data.queries,
            data.corpus,
            data.relevant_docs,
            mrr_at_k=depth,
            ndcg_at_k=depth,
            accuracy_at_k=depth,
            precision_recall_at_k=depth,
            map_at_k=depth,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            write_csv=False,
        )
        rankings = ranker.rank(retriever, retriever, None, ranker.resolve_score_functions(retriever))
        ((ids, _),) = rankings.values()
        return list(zip(ranker.queries_ids, ids, strict=True))

    def _load_hub_dataset(self, dataset_name: str) -> tuple[RetrievalData, Ranking]:
        """The corpus, queries, qrels and bm25 subsets of ``Nano<Name>`` in ``dataset_id``."""
        split = f"Nano{DATASET_NAME_TO_HUMAN_READABLE[dataset_name.lower()]}"
        corpus = self._load_subset("corpus", split, ["_id", "text"])
        queries = self._load_subset("queries", split, ["_id", "text"])
        qrels = self._load_subset("qrels", split, ["query-id", "corpus-id"])
        bm25 = self._load_subset("bm25", split, ["query-id", "corpus-ids"])
        relevant_docs: dict[str, set[str]] = {}
        for row in qrels:
            ids = row["corpus-id"]
            relevant_docs.setdefault(row["query-id"], set()).update(ids if isinstance(ids, list) else [ids])
        data = RetrievalData(
            queries=dict(zip(queries["_id"], queries["text"], strict=True)),
            corpus=dict(zip(corpus["_id"], corpus["text"], strict=True)),
            relevant_docs=relevant_docs,
        )
        return data, [(row["query-id"], list(row["corpus-ids"])) for row in bm25]

    def _load_subset(self, subset: str, split: str, required_columns: list[str]) -> Any:
        """``load_dataset(dataset_id, subset, split=split)``, checked for the required columns."""
        return load_hub_subset(
            type(self).__name__, self.dataset_id, subset, split, required_columns, "rerank local BEIR folders"
        )


def read_run_file(folder: Path) -> Ranking:
    """The first-stage ranking ``bm25.jsonl(.gz)`` of a local BEIR folder.

    Args:
        folder: The BEIR folder.

    Returns:
        Per line: the query id and its ranked corpus ids (ids as strings).

    Raises:
        FileNotFoundError: If the folder has no run file.
        ValueError: For a malformed line.
    """
    path = next((p for p in (folder / RUN_FILE, folder / f"{RUN_FILE}.gz") if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"BEIR folder {str(folder)!r} has no first-stage ranking {RUN_FILE}(.gz). Add one JSON line per query, "
            '{"query-id": "1", "corpus-ids": ["184", "29", ...]} (best first), or pass retriever=<a '
            "SentenceTransformer> to rank the corpus with a bi-encoder."
        )
    opener = gzip.open if path.suffix == ".gz" else open
    ranking: Ranking = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.strip():
                ranking.append(_run_line(path, line_number, line))
    return ranking


def _run_line(path: Path, line_number: int, line: str) -> tuple[str, list[str]]:
    """``(query id, corpus ids)`` of one run-file line, or a ``ValueError`` naming the line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: line {line_number} is not valid JSON ({error}). Fix or remove that line.") from error
    ids = row.get("corpus-ids") if isinstance(row, dict) else None
    if not isinstance(row, dict) or "query-id" not in row or not isinstance(ids, list):
        found = sorted(row) if isinstance(row, dict) else type(row).__name__
        raise ValueError(
            f"{path}: line {line_number} must be a JSON object with 'query-id' and a list "
            f'\'corpus-ids\', found {found}. Write e.g. {{"query-id": "1", "corpus-ids": ["184"]}}.'
        )
    return str(row["query-id"]), [str(doc_id) for doc_id in ids]


def rerank_samples(
    owner: str, source: str, data: RetrievalData, ranking: Ranking, rerank_k: int
) -> list[dict[str, Any]]:
    """Reranking samples: each ranked query's text, its judged documents and its top ``rerank_k`` documents.

    Queries of the ranking without judged documents are skipped (with a warning); judged queries the ranking
    lacks are not evaluated (with a warning).

    Args:
        owner: Evaluator class name, for messages.
        source: Where the data comes from (a folder, a Hub id), for messages.
        data: Queries, corpus and relevance judgments.
        ranking: First-stage ranking per query.
        rerank_k: Documents kept per query.

    Returns:
        ``{"query", "positive", "documents"}`` per judged query of the ranking, in ranking order.

    Raises:
        ValueError: For ids of the ranking or the judgments that the queries or the corpus lack, or when no query
            of the ranking is judged.
    """
    judged = [(qid, ids) for qid, ids in ranking if data.relevant_docs.get(qid)]
    skipped = len(ranking) - len(judged)
    unranked = sorted(set(data.relevant_docs) - {qid for qid, _ in ranking}, key=str)
    if skipped or unranked:
        logger.warning(
            "%s: %s: %d ranked queries have no relevance judgments (skipped); %d judged queries have no "
            "first-stage ranking (not evaluated, e.g. %s).",
            owner,
            source,
            skipped,
            len(unranked),
            unranked[:5],
        )
    if not judged:
        raise ValueError(
            f"{owner}: {source}: none of the {len(ranking)} queries of the first-stage ranking has "
            f"relevance judgments (qrels query ids e.g. {list(data.relevant_docs)[:3]}). Use the same "
            "query ids in the ranking and the qrels."
        )
    _check_known(owner, source, "query", [qid for qid, _ in judged], data.queries)
    needed_docs = [doc_id for qid, ids in judged for doc_id in [*ids[:rerank_k], *data.relevant_docs[qid]]]
    _check_known(owner, source, "corpus", needed_docs, data.corpus)
    return [
        {
            "query": data.queries[qid],
            "positive": [data.corpus[doc_id] for doc_id in sorted(data.relevant_docs[qid], key=str)],
            "documents": [data.corpus[doc_id] for doc_id in ids[:rerank_k]],
        }
        for qid, ids in judged
    ]


def _check_known(owner: str, source: str, kind: str, ids: list[str], known: Mapping[str, str]) -> None:
    """Raise a ``ValueError`` naming the ``kind`` ids absent from ``known``."""
    unknown = sorted(set(ids) - set(known), key=str)
    if unknown:
        raise ValueError(
            f"{owner}: {source}: {len(unknown)} {kind} id(s) of the ranking or the judgments are not in "
            f"the {kind} texts: {unknown[:10]}{' ...' if len(unknown) > 10 else ''}. Add those texts or "
            "drop those ids."
        )
