"""ParaphraseMiningEvaluator: mine the most similar sentence pairs and score them against gold duplicates."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from embedforge.evaluation import reporting
from embedforge.evaluation.arguments import positive_int
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.inputs import check_texts, encode_unique
from embedforge.util.mining import paraphrase_mining_embeddings

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["ParaphraseMiningEvaluator"]

logger = logging.getLogger(__name__)

Pair = frozenset
"""An unordered pair of sentence ids."""


class ParaphraseMiningEvaluator(SentenceEvaluator):
    """Paraphrase mining: find the most similar sentence pairs and compare them with known duplicates.

    Every distinct sentence is embedded once with ``model.encode``; the pairs with the highest cosine
    similarity are mined with :func:`~embedforge.util.paraphrase_mining_embeddings` (each sentence keeps its
    ``top_k`` neighbours, at most ``max_pairs`` pairs overall). Walking down that list by decreasing score, the
    evaluator measures average precision over all gold duplicates and the threshold with the best F1. Metrics,
    for ``name="dev"``: ``dev_average_precision`` (primary), ``dev_f1``, ``dev_precision``, ``dev_recall``,
    ``dev_threshold``. Keys and values match sentence-transformers 6.2.

    Gold pairs whose ids are not in ``sentences_map`` are dropped with a warning (sentence-transformers drops
    them silently), so a gold list may cover a larger collection. Pairs of an id with itself are dropped too
    (sentence-transformers counts them as duplicates that can never be found).

    Args:
        sentences_map: Sentence id to sentence text.
        duplicates_list: Pairs ``(id1, id2)`` of duplicate (paraphrase) sentences.
        duplicates_dict: ``duplicates_dict[id1][id2]`` is true when ``id1`` and ``id2`` are duplicates (either
            direction counts). Combined with ``duplicates_list`` when both are given; one of them is required.
        add_transitive_closure: Treat duplicates as an equivalence: if ``a~b`` and ``b~c`` then ``a~c``.
        query_chunk_size: Sentences whose neighbours are searched at once (memory vs. speed).
        corpus_chunk_size: Sentences each query is scored against at once (memory vs. speed).
        max_pairs: Maximum number of mined candidate pairs.
        top_k: Neighbours kept per sentence, i.e. the most paraphrases one sentence can have.
        show_progress_bar: Show a progress bar while encoding.
        batch_size: Sentences per forward pass.
        name: Dataset name, prefixed to every metric key and to the CSV file name.
        write_csv: Append the results to ``paraphrase_mining_evaluation[_<name>]_results.csv`` in the call's
            ``output_path``.
        truncate_dim: Keep the first dimensions of each embedding; default: the model's ``truncate_dim``.

    Example:
        >>> sentences = {"a": "A dog runs.", "b": "A dog is running.", "c": "Stocks fell today."}
        >>> evaluator = ParaphraseMiningEvaluator(sentences, duplicates_list=[("a", "b")], name="dev")
        >>> evaluator(model)  # doctest: +SKIP
        {'dev_average_precision': 1.0, 'dev_f1': 1.0, 'dev_precision': 1.0, 'dev_recall': 1.0, 'dev_threshold': ...}
    """

    config_keys: ClassVar[tuple[str, ...]] = ("max_pairs", "top_k", "truncate_dim")
    csv_headers: ClassVar[list[str]] = ["epoch", "steps", "precision", "recall", "f1", "threshold", "average_precision"]

    def __init__(
        self,
        sentences_map: Mapping[Hashable, str],
        duplicates_list: Iterable[Sequence[Hashable]] | None = None,
        duplicates_dict: Mapping[Hashable, Mapping[Hashable, bool]] | None = None,
        add_transitive_closure: bool = False,
        query_chunk_size: int = 5000,
        corpus_chunk_size: int = 100000,
        max_pairs: int = 500000,
        top_k: int = 100,
        show_progress_bar: bool = False,
        batch_size: int = 16,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(sentences_map, Mapping):
            raise ValueError(
                f"{owner}: `sentences_map` must be a dict from sentence id to sentence, found "
                f"{type(sentences_map).__name__}. Pass e.g. dict(zip(ids, sentences))."
            )
        self.ids: list[Hashable] = list(sentences_map)
        self.sentences = check_texts(owner, "sentences_map", sentences_map.values())
        for argument, value in (
            ("query_chunk_size", query_chunk_size),
            ("corpus_chunk_size", corpus_chunk_size),
            ("max_pairs", max_pairs),
            ("top_k", top_k),
            ("batch_size", batch_size),
        ):
            positive_int(owner, argument, value)
        self.gold_pairs = _gold_pairs(owner, set(self.ids), duplicates_list, duplicates_dict, add_transitive_closure)
        self.total_num_duplicates = len(self.gold_pairs)
        self._add_transitive_closure = add_transitive_closure
        self.query_chunk_size = query_chunk_size
        self.corpus_chunk_size = corpus_chunk_size
        self.max_pairs = max_pairs
        self.top_k = top_k
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"paraphrase_mining_evaluation{reporting.name_suffix(name)}_results.csv"
        self.primary_metric = reporting.prefixed(name, "average_precision")

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed the sentences, mine the most similar pairs and score them against the gold duplicates.

        Args:
            model: The model to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps, self.truncate_dim)
        pairs = self.mine_pairs(model)
        is_duplicate = [Pair((self.ids[i], self.ids[j])) in self.gold_pairs for _, i, j in pairs]
        metrics = mining_metrics([float(score) for score, _, _ in pairs], is_duplicate, self.total_num_duplicates)
        reporting.log_metrics(
            [
                f"Number of candidate pairs: {len(pairs)}",
                f"Average Precision: {metrics['average_precision'] * 100:.2f}",
                f"Optimal threshold: {metrics['threshold']:.4f}",
                f"Precision: {metrics['precision'] * 100:.2f}",
                f"Recall: {metrics['recall'] * 100:.2f}",
                f"F1: {metrics['f1'] * 100:.2f}\n",
            ]
        )
        if output_path is not None and self.write_csv:
            row = [epoch, steps, *(metrics[column] for column in self.csv_headers[2:])]
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, row)
        return self.publish_metrics(model, metrics, epoch, steps)

    def mine_pairs(self, model: EmbeddingModel) -> list[list[float | int]]:
        """Embed each distinct sentence once and mine the highest-scoring pairs by cosine similarity.

        Args:
            model: The model to evaluate.

        Returns:
            Triplets ``[score, i, j]`` (``i < j`` index ``self.ids``), by decreasing score.
        """
        (embeddings,) = encode_unique(
            model.encode,
            [self.sentences],
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            truncate_dim=self.truncate_dim,
        )
        return paraphrase_mining_embeddings(
            torch.from_numpy(embeddings),
            query_chunk_size=self.query_chunk_size,
            corpus_chunk_size=self.corpus_chunk_size,
            max_pairs=self.max_pairs,
            top_k=self.top_k,
        )

    @staticmethod
    def add_transitive_closure(
        graph: Mapping[Hashable, Mapping[Hashable, bool]],
    ) -> dict[Hashable, dict[Hashable, bool]]:
        """Close a duplicate graph: every two ids connected through true entries become duplicates.

        Args:
            graph: ``graph[a][b]`` is true when ``a`` and ``b`` are duplicates (treated as symmetric).

        Returns:
            A new graph with the entries of ``graph`` plus ``[a][b] = True`` for every connected ``a != b``.
        """
        closed = {node: dict(neighbours) for node, neighbours in graph.items()}
        edges = [(a, b) for a, neighbours in graph.items() for b, flag in neighbours.items() if flag]
        for component in _components(edges):
            for a in component:
                closed.setdefault(a, {}).update(dict.fromkeys(component - {a}, True))
        return closed

    def get_config_dict(self) -> dict[str, Any]:
        """``add_transitive_closure``, ``max_pairs``, ``top_k``, and ``truncate_dim`` when set.

        Returns:
            Attribute name to value.
        """
        return {"add_transitive_closure": self._add_transitive_closure, **super().get_config_dict()}


def mining_metrics(scores: Sequence[float], is_duplicate: Sequence[bool], total_duplicates: int) -> dict[str, float]:
    """Average precision and best-F1 operating point of mined pairs sorted by decreasing score.

    Pairs with equal scores form one step: precision and recall are measured only after the last of them. The
    threshold of the best F1 lies halfway between the last accepted score and the next one.

    Args:
        scores: Scores of the mined pairs, in decreasing order, shape ``(n_pairs,)``.
        is_duplicate: Whether each mined pair is a gold duplicate, shape ``(n_pairs,)``.
        total_duplicates: Number of gold duplicate pairs (found or not); must be positive.

    Returns:
        ``average_precision``, ``f1``, ``precision``, ``recall`` and ``threshold``.

    Example:
        >>> mining_metrics([0.9, 0.8, 0.7], [True, False, True], total_duplicates=2)["average_precision"]
        0.8333333333333333
    """
    best = {"f1": 0.0, "precision": 0.0, "recall": 0.0, "threshold": 0.0}
    average_precision = 0.0
    n_correct = previous_correct = 0
    last = len(scores) - 1
    for index, score in enumerate(scores):
        n_correct += bool(is_duplicate[index])
        if index < last and scores[index + 1] == score:
            continue
        if n_correct > previous_correct:
            precision = n_correct / (index + 1)
            recall = n_correct / total_duplicates
            f1 = 2 * precision * recall / (precision + recall)
            average_precision += precision * (n_correct - previous_correct)
            if f1 > best["f1"]:
                threshold = (score + scores[min(index + 1, last)]) / 2
                best = {"f1": f1, "precision": precision, "recall": recall, "threshold": threshold}
        previous_correct = n_correct
    return {"average_precision": average_precision / total_duplicates, **best}


def _gold_pairs(
    owner: str,
    known: set[Hashable],
    duplicates_list: Iterable[Sequence[Hashable]] | None,
    duplicates_dict: Mapping[Hashable, Mapping[Hashable, bool]] | None,
    add_transitive_closure: bool,
) -> frozenset[Pair]:
    """The unordered gold pairs between known ids, from both inputs (closed under transitivity if asked).

    As in sentence-transformers, list pairs need both ids known before the closure, while dict entries join the
    closure as they are (an unknown id may link two known ones); only pairs of known ids are kept at the end.
    """
    if duplicates_list is None and duplicates_dict is None:
        raise ValueError(
            f"{owner}: no gold duplicates given. Pass `duplicates_list` (pairs of sentence ids) or "
            "`duplicates_dict` ({id1: {id2: True}})."
        )
    edges = _dict_edges(owner, duplicates_dict) if duplicates_dict is not None else []
    list_edges = _list_edges(owner, duplicates_list) if duplicates_list is not None else []
    edges += [(a, b) for a, b in list_edges if a in known and b in known]
    if any(a == b for a, b in [*edges, *list_edges]):
        logger.warning("%s: ignoring gold duplicate pairs of an id with itself.", owner)
    if add_transitive_closure:
        edges = [(a, b) for component in _components(edges) for a in component for b in component]
    given = {Pair((a, b)) for a, b in [*edges, *list_edges] if a != b}
    kept = frozenset(pair for pair in given if pair <= known)
    _warn_unknown(owner, given - kept, known)
    if not kept:
        raise ValueError(
            f"{owner}: none of the gold duplicate pairs joins two different ids of `sentences_map` "
            f"({len(known)} ids, e.g. {next(iter(known))!r}). Pass pairs of ids that are keys of `sentences_map`."
        )
    return kept


def _list_edges(owner: str, duplicates_list: Iterable[Sequence[Hashable]]) -> list[tuple[Hashable, Hashable]]:
    """The pairs of ``duplicates_list`` as tuples, or a ``ValueError`` naming the first malformed entry."""
    if isinstance(duplicates_list, (str, Mapping)) or not isinstance(duplicates_list, Iterable):
        raise ValueError(
            f"{owner}: `duplicates_list` must be a list of (id1, id2) pairs, found {type(duplicates_list).__name__}. "
            "Pass e.g. [('q1', 'q2')], or use `duplicates_dict` for a dict."
        )
    edges = []
    for index, pair in enumerate(duplicates_list):
        items = () if isinstance(pair, (str, bytes)) or not isinstance(pair, Iterable) else tuple(pair)
        if len(items) != 2:
            raise ValueError(
                f"{owner}: `duplicates_list` entries must be (id1, id2) pairs, found {pair!r} at index {index}. "
                "Pass two sentence ids per entry."
            )
        edges.append((items[0], items[1]))
    return edges


def _dict_edges(
    owner: str, duplicates_dict: Mapping[Hashable, Mapping[Hashable, bool]]
) -> list[tuple[Hashable, Hashable]]:
    """The true entries ``(id1, id2)`` of ``duplicates_dict``, or a ``ValueError`` if it is not a dict of dicts."""
    if isinstance(duplicates_dict, Mapping):
        wrong = [(key, value) for key, value in duplicates_dict.items() if not isinstance(value, Mapping)]
        found = f"{type(wrong[0][1]).__name__} {wrong[0][1]!r} under {wrong[0][0]!r}" if wrong else None
    else:
        found = type(duplicates_dict).__name__
    if found is not None:
        raise ValueError(
            f"{owner}: `duplicates_dict` must map an id to a dict {{other_id: True}}, found {found}. "
            "Pass e.g. {'q1': {'q2': True}, 'q2': {'q1': True}}, or use `duplicates_list` for pairs."
        )
    return [(a, b) for a, neighbours in duplicates_dict.items() for b, flag in neighbours.items() if flag]


def _components(edges: Iterable[tuple[Hashable, Hashable]]) -> list[set[Hashable]]:
    """Connected components (of two nodes or more) of the undirected graph given by ``edges``."""
    parent: dict[Hashable, Hashable] = {}

    def root(node: Hashable) -> Hashable:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in edges:
        parent[root(a)] = root(b)
    groups: dict[Hashable, set[Hashable]] = {}
    for node in list(parent):
        groups.setdefault(root(node), set()).add(node)
    return [group for group in groups.values() if len(group) > 1]


def _warn_unknown(owner: str, dropped: set[Pair], known: set[Hashable]) -> None:
    """Log the gold pairs that were left out because an id is not in ``sentences_map``."""
    if dropped:
        unknown = sorted({repr(node) for pair in dropped for node in pair if node not in known})
        logger.warning(
            "%s: ignoring %d gold duplicate pair(s) with ids that are not in `sentences_map` (e.g. %s).",
            owner,
            len(dropped),
            ", ".join(unknown[:3]),
        )
