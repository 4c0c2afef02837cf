"""What the listwise cross-encoder losses share: checking (query, [documents]) batches, scoring every pair, padding.

Listwise data holds one query per row, a list of documents for it and one label per document; lists may have
different lengths. :class:`ListwiseLoss` checks such a batch, scores every (query, document) pair with the model
(in chunks of ``mini_batch_size`` pairs) and hands a :class:`ListwiseBatch` to the loss's
:meth:`~ListwiseLoss.compute_loss`. The batch lays the flat scores and labels out on a ``(queries, max_docs)`` grid,
each loss choosing the value that fills the padded cells (e.g. ``-1e16`` scores and ``-inf`` labels, so that
padded documents get no probability mass).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.losses.base import InputSpec, LabelKind

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["ListwiseBatch", "ListwiseLoss", "check_listwise_batch", "pair_chunk_size"]

_LISTWISE_EXAMPLE = "{'query': 'q', 'docs': ['d1', 'd2'], 'labels': [1, 0]}"


@dataclass(frozen=True)
class ListwiseBatch:
    """The scores and labels of a listwise batch, flat and on a padded ``(queries, max_docs)`` grid.

    Attributes:
        scores: ``(pairs,)`` float scores of every (query, document) pair, query after query, documents in order.
        labels: ``(pairs,)`` float labels, in the same order, on the device of ``scores``.
        rows: ``(pairs,)`` query index of each pair.
        columns: ``(pairs,)`` position of each pair's document in its query's list.
        num_queries: Number of queries (rows of the grid).
        max_docs: Length of the longest document list (columns of the grid).
    """

    scores: Tensor
    labels: Tensor
    rows: Tensor
    columns: Tensor
    num_queries: int
    max_docs: int

    @classmethod
    def from_scores(cls, scores: Tensor, labels: Sequence[Tensor | Sequence[float]]) -> ListwiseBatch:
        """Group flat scores by query, with the list lengths given by the per-query labels.

        Args:
            scores: ``(pairs,)`` scores, query after query.
            labels: One ``(docs_i,)`` label list per query; ``sum(docs_i)`` must equal ``pairs``.

        Returns:
            The batch.

        Raises:
            ValueError: If the labels do not hold one label per score.
        """
        counts = [len(row) for row in labels]
        if sum(counts) != scores.numel():
            raise ValueError(
                f"Expected one label per score: got {scores.numel()} scores but {sum(counts)} labels (per query: "
                f"{counts}). Give each query exactly one label per document."
            )
        device = scores.device
        sizes = torch.tensor(counts, device=device)
        rows = torch.repeat_interleave(torch.arange(len(counts), device=device), sizes)
        columns = torch.cat([torch.arange(count, device=device) for count in counts])
        flat_labels = torch.cat([torch.as_tensor(row, dtype=torch.float, device=device).reshape(-1) for row in labels])
        return cls(scores.reshape(-1).float(), flat_labels, rows, columns, len(counts), max(counts))

    def _grid(self, values: Tensor, fill: float) -> Tensor:
        grid = torch.full((self.num_queries, self.max_docs), fill, dtype=values.dtype, device=self.scores.device)
        grid[self.rows, self.columns] = values
        return grid

    def score_grid(self, fill: float) -> Tensor:
        """``(queries, max_docs)`` scores, padded cells set to ``fill``; gradients flow to the real cells."""
        return self._grid(self.scores, fill)

    def label_grid(self, fill: float) -> Tensor:
        """``(queries, max_docs)`` labels, padded cells set to ``fill``."""
        return self._grid(self.labels, fill)

    def mask(self) -> Tensor:
        """``(queries, max_docs)`` booleans: True where a real document is, False on padding."""
        return self._grid(torch.ones_like(self.labels, dtype=torch.bool), False)


def pair_chunk_size(mini_batch_size: int | None, num_queries: int, num_pairs: int) -> int:
    """How many (query, document) pairs go through the model at once.

    As in sentence-transformers: None (or 0) means as many pairs as there are queries in the batch, a negative
    value all pairs at once, and a positive value that many pairs.
    """
    size = mini_batch_size or num_queries
    return num_pairs if size <= 0 else size


class ListwiseLoss(CrossEncoderLoss):
    """Base of the listwise losses: a query, its list of documents, one label per document.

    Subclasses implement :meth:`compute_loss` on a :class:`ListwiseBatch` of (activated) scores and labels.

    Args:
        model: The cross-encoder being trained (one label).
        activation_fn: Applied to the logits before the loss; None for the identity.
        mini_batch_size: Pairs scored per forward pass: None (or 0) for as many as there are queries, a negative
            value for all pairs at once, a positive value for that many.

    Raises:
        ValueError: If ``model`` is not a one-label cross-encoder.
    """

    input_spec: ClassVar[InputSpec] = InputSpec(
        min_texts=2,
        max_texts=2,
        label=LabelKind.PER_DOCUMENT,
        description="(query, [doc1, ..., docN])",
        list_columns=(1,),
    )
    config_keys: ClassVar[tuple[str, ...]] = ("activation_fn", "mini_batch_size")

    def __init__(
        self, model: ScoringModel, activation_fn: nn.Module | None = None, mini_batch_size: int | None = None
    ) -> None:
        super().__init__(model)
        self.activation_fn = activation_fn if activation_fn is not None else nn.Identity()
        self.mini_batch_size = mini_batch_size

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """Score every (query, document) pair and compute the loss.

        Args:
            inputs: Two columns: the queries, and one list of documents per query.
            labels: One ``(docs_i,)`` tensor (or list of numbers) per query, one label per document.
            prompt: Prompt prepended to every query, or None.
            task: Routing task for models with a Router, or None.

        Returns:
            A scalar tensor.

        Raises:
            ValueError: If the batch is not (queries, document lists) with one label list per query and one label
                per document.
        """
        queries, documents, label_lists = check_listwise_batch(type(self).__name__, inputs, labels)
        pairs = [(query, document) for query, docs in zip(queries, documents, strict=True) for document in docs]
        chunk = pair_chunk_size(self.mini_batch_size, len(queries), len(pairs))
        logits = torch.cat(
            [self.logits(pairs[start : start + chunk], prompt, task).view(-1) for start in range(0, len(pairs), chunk)]
        ).float()
        return self.compute_loss(ListwiseBatch.from_scores(self.activation_fn(logits), label_lists))

    @abstractmethod
    def compute_loss(self, batch: ListwiseBatch) -> Tensor:
        """The loss of already computed scores.

        Args:
            batch: Activated scores and labels of every (query, document) pair.

        Returns:
            A scalar tensor.
        """


def check_listwise_batch(
    loss_name: str, inputs: Sequence[Any], labels: Tensor | Sequence[Any] | None
) -> tuple[list[str], list[list[str]], list[Tensor | Sequence[float]]]:
    """Check a (queries, document lists) batch and its per-document labels.

    Args:
        loss_name: The loss's class name, for messages.
        inputs: The batch's input columns.
        labels: The batch's labels.

    Returns:
        ``(queries, document_lists, label_lists)``.

    Raises:
        ValueError: Saying what was expected, what was found and how to fix it.
    """
    if len(inputs) != 2:
        raise ValueError(
            f"{loss_name} expects two input columns (queries, document lists), got {len(inputs)} columns. Keep "
            f"only a query column and a column with a list of documents per query, e.g. {_LISTWISE_EXAMPLE}."
        )
    queries, documents = list(inputs[0]), list(inputs[1])
    _check_documents(loss_name, queries, documents)
    label_lists = _check_label_lists(loss_name, labels, len(queries))
    document_counts = [len(docs) for docs in documents]
    label_counts = [len(row) for row in label_lists]
    if document_counts != label_counts:
        raise ValueError(
            f"{loss_name} expects one label per document; number of documents per query: {document_counts}, number "
            f"of labels per query: {label_counts}. Give every document exactly one label, in the same order."
        )
    return queries, documents, label_lists


def _check_documents(loss_name: str, queries: list[Any], documents: list[Any]) -> None:
    if len(queries) != len(documents):
        raise ValueError(
            f"{loss_name} expects one document list per query, got {len(queries)} queries and {len(documents)} "
            "document lists. Give every row a query and its list of documents."
        )
    for index, docs in enumerate(documents):
        if not isinstance(docs, (list, tuple)):
            raise ValueError(
                f"{loss_name} expects the second column to hold a list of documents per query; row {index} holds "
                f"{type(docs).__name__} {docs!r}. Store the documents as a list per row, e.g. {_LISTWISE_EXAMPLE}."
            )
    if not any(documents):
        raise ValueError(
            f"{loss_name} got a batch without any document ({len(queries)} queries, all document lists empty). "
            "Give each query at least one document."
        )


def _check_label_lists(
    loss_name: str, labels: Tensor | Sequence[Any] | None, num_queries: int
) -> list[Tensor | Sequence[float]]:
    fix = f"Use a label column that holds one list per row, with one label per document, e.g. {_LISTWISE_EXAMPLE}."
    if labels is None:
        raise ValueError(f"{loss_name} needs labels: one list per query with a label per document. {fix}")
    if isinstance(labels, Tensor):
        raise ValueError(
            f"{loss_name} expects a list of labels for each query (a list of tensors), got a single tensor of "
            f"shape {tuple(labels.shape)}. {fix}"
        )
    label_lists = list(labels)
    for index, row in enumerate(label_lists):
        if not (isinstance(row, (list, tuple)) or (isinstance(row, Tensor) and row.dim() == 1)):
            raise ValueError(
                f"{loss_name} expects a list of labels for each query; the labels of query {index} are "
                f"{type(row).__name__} {row!r}. {fix}"
            )
    if len(label_lists) != num_queries:
        raise ValueError(
            f"{loss_name} expects one label list per query, got {len(label_lists)} label lists for {num_queries} "
            "queries. Give every row its list of labels."
        )
    return label_lists
