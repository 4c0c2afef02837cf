"""Okapi BM25 lexical scoring over a small in-memory corpus (for pair sampling, e.g. Augmented SBERT).

The sentence-transformers documentation samples new sentence pairs for Augmented SBERT with BM25 through an
Elasticsearch server; this is the same ranking function (Lucene's BM25: its idf, ``k1`` and ``b``) without a server,
for corpora that fit in memory as a sparse matrix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

__all__ = ["BM25", "simple_tokenize"]

_WORD = re.compile(r"\w+", re.UNICODE)


def simple_tokenize(text: str) -> list[str]:
    """Lower-cased runs of word characters: ``"It's 2 A.M."`` → ``["it", "s", "2", "a", "m"]``."""
    return _WORD.findall(text.lower())


class BM25:
    """Okapi BM25 scores of queries against a fixed corpus.

    For a query ``q`` and a document ``d`` of length ``|d|`` (in tokens) in a corpus of ``N`` documents of mean
    length ``avgdl``::

        score(q, d) = sum over query tokens t of idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + K(d))
        K(d)  = k1 * (1 - b + b * |d| / avgdl)
        idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))

    where ``tf(t, d)`` counts ``t`` in ``d`` and ``n(t)`` counts the documents holding ``t`` (Lucene's idf, which
    is never negative). A token repeated in the query counts once per occurrence; tokens absent from the corpus
    add nothing.

    Args:
        corpus: The documents.
        k1: Term-frequency saturation (Lucene's default 1.2).
        b: Length normalisation, from 0 (none) to 1 (full).
        tokenizer: Splits a text into tokens; :func:`simple_tokenize` by default.

    Example:
        >>> bm25 = BM25(["a cat sat", "a dog ran", "the cat ran far"])
        >>> [hit for hit, _ in bm25.top_k(["cat ran"], k=1)[0]]
        [2]
    """

    def __init__(
        self,
        corpus: Sequence[str],
        k1: float = 1.2,
        b: float = 0.75,
        tokenizer: Callable[[str], list[str]] = simple_tokenize,
    ) -> None:
        if not corpus:
            raise ValueError("BM25 needs a non-empty corpus; got 0 documents.")
        self.k1 = k1
        self.b = b
        self.tokenizer = tokenizer
        counts = [Counter(tokenizer(text)) for text in corpus]
        self.vocabulary: dict[str, int] = {}
        for document in counts:
            for token in document:
                self.vocabulary.setdefault(token, len(self.vocabulary))
        self.weights = self._weight_matrix(counts)

    def _weight_matrix(self, counts: list[Counter[str]]) -> sparse.csr_matrix:
        """The ``(vocabulary, documents)`` matrix of each token's BM25 contribution to each document's score."""
        rows, columns, frequencies = [], [], []
        for column, document in enumerate(counts):
            for token, frequency in document.items():
                rows.append(self.vocabulary[token])
                columns.append(column)
                frequencies.append(frequency)
        n_documents = len(counts)
        lengths = np.array([sum(document.values()) for document in counts], dtype=np.float64)
        average_length = max(float(lengths.mean()), 1e-12)
        tf = np.array(frequencies, dtype=np.float64)
        document_frequency = np.bincount(np.array(rows, dtype=np.int64), minlength=len(self.vocabulary))
        idf = np.log1p((n_documents - document_frequency + 0.5) / (document_frequency + 0.5))
        norm = self.k1 * (1.0 - self.b + self.b * lengths[np.array(columns, dtype=np.int64)] / average_length)
        values = idf[np.array(rows, dtype=np.int64)] * tf * (self.k1 + 1.0) / (tf + norm)
        shape = (len(self.vocabulary), n_documents)
        return sparse.csr_matrix((values, (rows, columns)), shape=shape, dtype=np.float64)

    def _query_matrix(self, queries: Sequence[str]) -> sparse.csr_matrix:
        """The ``(queries, vocabulary)`` matrix of query-token counts (tokens unknown to the corpus dropped)."""
        rows, columns, values = [], [], []
        for row, query in enumerate(queries):
            for token, count in Counter(self.tokenizer(query)).items():
                if token in self.vocabulary:
                    rows.append(row)
                    columns.append(self.vocabulary[token])
                    values.append(float(count))
        return sparse.csr_matrix((values, (rows, columns)), shape=(len(queries), len(self.vocabulary)))

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 scores of every query against every document, shape ``(len(queries), len(corpus))``."""
        return np.asarray((self._query_matrix(queries) @ self.weights).todense())

    def top_k(self, queries: Sequence[str], k: int, chunk_size: int = 1024) -> list[list[tuple[int, float]]]:
        """The ``k`` best ``(document index, score)`` per query by decreasing score (ties: lower index first).

        Documents scoring 0 (no shared token) are left out, so a query may get fewer than ``k`` hits.

        Args:
            queries: The queries.
            k: Hits per query.
            chunk_size: Queries scored at once (bounds the dense score block in memory).
        """
        hits: list[list[tuple[int, float]]] = []
        for start in range(0, len(queries), chunk_size):
            block = self.scores(queries[start : start + chunk_size])
            order = np.argsort(-block, axis=1, kind="stable")[:, :k]
            for row, indices in zip(block, order, strict=True):
                hits.append([(int(index), float(row[index])) for index in indices if row[index] > 0.0])
        return hits

    def __repr__(self) -> str:
        return f"BM25(documents={self.weights.shape[1]}, vocabulary={self.weights.shape[0]}, k1={self.k1}, b={self.b})"
