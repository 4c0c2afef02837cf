"""Candidate retrieval for :func:`embedforge.util.mine_hard_negatives`: texts, embeddings (cached), top-k search."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from embedforge.util._hard_negatives_options import SearchBackend
from embedforge.util._quantized_search import _import_backend as import_search_library

if TYPE_CHECKING:
    from embedforge.model.sentence_transformer import SentenceTransformer


@dataclass(frozen=True)
class MiningTexts:
    """The distinct anchors, the candidate corpus and which corpus entries are each anchor's positives.

    Attributes:
        queries: Distinct anchors, in order of first appearance.
        corpus: Distinct candidate texts: the extra corpus (if any) followed by the positives.
        positive_ids: For each query, the corpus ids of its distinct positives, in dataset order.
    """

    queries: list[str]
    corpus: list[str]
    positive_ids: list[list[int]]

    @classmethod
    def from_rows(cls, anchors: Sequence[str], positives: Sequence[str], corpus: Sequence[str] | None) -> MiningTexts:
        """Deduplicate the anchors and the candidates; a repeated anchor collects all its positives.

        Args:
            anchors: The anchor of every dataset row.
            positives: The positive of every dataset row.
            corpus: Extra candidate texts; None: the positives only.
        """
        texts = list(corpus) if corpus is not None else list(positives)
        corpus_list = list(dict.fromkeys([*texts, *positives]))
        corpus_ids = {text: index for index, text in enumerate(corpus_list)}
        queries = list(dict.fromkeys(anchors))
        query_ids = {query: index for index, query in enumerate(queries)}
        positive_ids: list[list[int]] = [[] for _ in queries]
        for anchor, positive in zip(anchors, positives, strict=True):
            ids = positive_ids[query_ids[anchor]]
            if corpus_ids[positive] not in ids:
                ids.append(corpus_ids[positive])
        return cls(queries=queries, corpus=corpus_list, positive_ids=positive_ids)

    @property
    def n_positives(self) -> list[int]:
        """Distinct positives per query."""
        return [len(ids) for ids in self.positive_ids]

    @property
    def row_query_ids(self) -> list[int]:
        """The query id of every (query, positive) row, grouped by query."""
        return [query for query, ids in enumerate(self.positive_ids) for _ in ids]

    @property
    def row_positive_ids(self) -> list[int]:
        """The corpus id of every (query, positive) row, grouped by query."""
        return [positive for ids in self.positive_ids for positive in ids]

    def row_pairs(self) -> list[tuple[str, str]]:
        """Every (query, positive) text pair, grouped by query."""
        return [
            (self.queries[query], self.corpus[positive])
            for query, ids in enumerate(self.positive_ids)
            for positive in ids
        ]


@dataclass(frozen=True)
class EncodeSettings:
    """How the anchors and the corpus are embedded.

    Attributes:
        query_prompt_name: Prompt name for the anchors (``encode_query``).
        query_prompt: Prompt text for the anchors; wins over the name.
        corpus_prompt_name: Prompt name for the corpus (``encode_document``).
        corpus_prompt: Prompt text for the corpus; wins over the name.
        batch_size: Texts per forward pass.
        devices: None: encode in this process; else the pool's devices (an empty list: the default devices).
        cache_folder: Where ``.npy`` embedding files are saved and reloaded; None: no cache.
        verbose: Show progress bars and cache messages.
    """

    query_prompt_name: str | None
    query_prompt: str | None
    corpus_prompt_name: str | None
    corpus_prompt: str | None
    batch_size: int
    devices: list[str] | None
    cache_folder: str | None
    verbose: bool


def import_backend(backend: SearchBackend) -> ModuleType | None:
    """Import the search library of ``backend`` (None for the built-in torch search).

    Raises:
        ImportError: When the library is not installed; the message names the extra that installs it.
    """
    if backend == "torch":
        return None
    module, package = ("faiss", "faiss-cpu") if backend == "faiss" else ("usearch.index", "usearch")
    return import_search_library(module, package, f"mine_hard_negatives(use_{backend}=True)")


def embed_texts(
    model: SentenceTransformer, texts: MiningTexts, settings: EncodeSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized embeddings of the queries and the corpus, loaded from or saved to the cache folder.

    Args:
        model: Embeds the queries with ``encode_query`` and the corpus with ``encode_document``.
        texts: The queries and the corpus.
        settings: Prompts, batch size, devices and cache.

    Returns:
        ``(query embeddings (n_queries, dim), corpus embeddings (n_corpus, dim))``.
    """
    files: tuple[Path | None, Path | None] = (None, None)
    loaded: list[np.ndarray | None] = [None, None]
    if settings.cache_folder:
        files = cache_files(model, texts, settings)
        loaded = [
            _load_cached(file, role, settings.verbose) for file, role in zip(files, ("query", "corpus"), strict=True)
        ]
    query_embeddings, corpus_embeddings = loaded
    if query_embeddings is None or corpus_embeddings is None:
        query_embeddings, corpus_embeddings = _encode(model, texts, settings, query_embeddings, corpus_embeddings)
    for file, embeddings, role in zip(files, (query_embeddings, corpus_embeddings), ("query", "corpus"), strict=True):
        if file is not None and not file.exists():
            np.save(file, embeddings)
            if settings.verbose:
                print(f"[Cache] Saved {role} embeddings to {file}")
    return query_embeddings, corpus_embeddings


def cache_files(model: SentenceTransformer, texts: MiningTexts, settings: EncodeSettings) -> tuple[Path, Path]:
    """The cache files ``query_embeddings_{sha256}.npy`` and ``corpus_embeddings_{sha256}.npy``.

    Each hash covers the model's name, the role's prompt (text and name) and the texts, as in sentence-transformers;
    the name is the Hub id, else the folder the weights were loaded from.
    """
    folder = Path(str(settings.cache_folder))
    folder.mkdir(parents=True, exist_ok=True)
    name = model_name(model)
    query_key = (name, settings.query_prompt, settings.query_prompt_name, texts.queries)
    corpus_key = (name, settings.corpus_prompt, settings.corpus_prompt_name, texts.corpus)
    query_hash = hashlib.sha256(repr(query_key).encode(), usedforsecurity=False).hexdigest()
    corpus_hash = hashlib.sha256(repr(corpus_key).encode(), usedforsecurity=False).hexdigest()
    return folder / f"query_embeddings_{query_hash}.npy", folder / f"corpus_embeddings_{corpus_hash}.npy"


def model_name(model: SentenceTransformer) -> str:
    """The model's Hub id (as sentence-transformers keys its cache), else the path its weights came from."""
    if model.model_card_data.base_model:
        return str(model.model_card_data.base_model)
    backbone = model.transformers_model
    return str(backbone.config.name_or_path) if backbone is not None else ""


def _load_cached(file: Path, role: str, verbose: bool) -> np.ndarray | None:
    if not file.exists():
        return None
    embeddings = np.load(file)
    if verbose:
        print(f"[Cache] Loaded {role} embeddings from {file} (shape={embeddings.shape})")
    return embeddings


def _encode(
    model: SentenceTransformer,
    texts: MiningTexts,
    settings: EncodeSettings,
    query_embeddings: np.ndarray | None,
    corpus_embeddings: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    common: dict[str, Any] = {
        "batch_size": settings.batch_size,
        "normalize_embeddings": True,
        "convert_to_numpy": True,
        "show_progress_bar": settings.verbose,
    }
    pool = None
    if settings.devices is not None:
        pool = model.start_multi_process_pool(target_devices=settings.devices or None)
    try:
        if corpus_embeddings is None:
            corpus_embeddings = model.encode_document(
                texts.corpus,
                pool=pool,
                prompt_name=settings.corpus_prompt_name,
                prompt=settings.corpus_prompt,
                **common,
            )
        if query_embeddings is None:
            query_embeddings = model.encode_query(
                texts.queries,
                pool=pool,
                prompt_name=settings.query_prompt_name,
                prompt=settings.query_prompt,
                **common,
            )
    finally:
        if pool is not None:
            model.stop_multi_process_pool(pool)
    return np.asarray(query_embeddings), np.asarray(corpus_embeddings)


def search_candidates(
    model: SentenceTransformer,
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray,
    k: int,
    chunk_size: int,
    backend: SearchBackend,
    verbose: bool,
) -> tuple[Tensor, Tensor]:
    """The ``k`` best corpus entries of every query, best first.

    Args:
        model: Its ``similarity`` scores the torch search; FAISS and usearch use the inner product instead (the
            same for cosine, as the embeddings are normalized).
        query_embeddings: ``(n_queries, dim)``.
        corpus_embeddings: ``(n_corpus, dim)``.
        k: Candidates per query.
        chunk_size: Queries searched at once; bounds the ``(chunk_size, n_corpus)`` score matrix.
        backend: ``"torch"`` (exact), ``"faiss"`` (exact inner product) or ``"usearch"`` (exact inner product).
        verbose: Show a progress bar.

    Returns:
        ``(scores, indices)``, both ``(n_queries, k)`` on the model's device; slots beyond the corpus size hold
        index -1 and score -inf.
    """
    module = import_backend(backend)
    if backend == "faiss":
        scores, indices = _faiss_search(module, query_embeddings, corpus_embeddings, k, chunk_size, verbose)
    elif backend == "usearch":
        scores, indices = _usearch_search(module, query_embeddings, corpus_embeddings, k, chunk_size, verbose)
    else:
        scores, indices = _torch_search(model, query_embeddings, corpus_embeddings, k, chunk_size, verbose)
    missing = k - scores.size(1)
    if missing > 0:
        scores = torch.cat([scores, scores.new_full((scores.size(0), missing), -float("inf"))], dim=1)
        indices = torch.cat([indices, indices.new_full((indices.size(0), missing), -1)], dim=1)
    scores[indices == -1] = -float("inf")
    return scores.to(model.device), indices.to(model.device)


def _torch_search(
    model: SentenceTransformer, queries: np.ndarray, corpus: np.ndarray, k: int, chunk_size: int, verbose: bool
) -> tuple[Tensor, Tensor]:
    device = model.device
    corpus_tensor = torch.as_tensor(corpus, device=device)
    k = min(k, corpus_tensor.size(0))
    scores, indices = [], []
    from tqdm.auto import trange

    for start in trange(0, len(queries), chunk_size, desc="Computing similarity scores", disable=not verbose):
        chunk = torch.as_tensor(queries[start : start + chunk_size], device=device)
        chunk_scores, chunk_indices = torch.topk(model.similarity(chunk, corpus_tensor), k=k, dim=1)
        scores.append(chunk_scores)
        indices.append(chunk_indices)
    return torch.cat(scores), torch.cat(indices)


def _faiss_search(
    faiss: Any, queries: np.ndarray, corpus: np.ndarray, k: int, chunk_size: int, verbose: bool
) -> tuple[Tensor, Tensor]:
    index = faiss.IndexFlatIP(corpus.shape[1])
    if faiss.get_num_gpus() > 0:
        options = faiss.GpuMultipleClonerOptions()
        options.shard = True
        options.useFloat16 = True
        index = faiss.index_cpu_to_all_gpus(index, co=options)
    index.add(np.ascontiguousarray(corpus, dtype=np.float32))
    scores, indices = [], []
    from tqdm.auto import trange

    for start in trange(0, len(queries), chunk_size, desc="Querying FAISS index", disable=not verbose):
        chunk = np.ascontiguousarray(queries[start : start + chunk_size], dtype=np.float32)
        chunk_scores, chunk_indices = index.search(chunk, k)
        scores.append(chunk_scores)
        indices.append(chunk_indices)
    return torch.from_numpy(np.concatenate(scores)), torch.from_numpy(np.concatenate(indices)).long()


def _usearch_search(
    usearch_index: Any, queries: np.ndarray, corpus: np.ndarray, k: int, chunk_size: int, verbose: bool
) -> tuple[Tensor, Tensor]:
    from tqdm.auto import trange

    index = usearch_index.Index(ndim=corpus.shape[1], metric="ip", dtype="f32")
    index.add(np.arange(len(corpus)), np.ascontiguousarray(corpus, dtype=np.float32))
    k = min(k, len(corpus))
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    indices = np.full((len(queries), k), -1, dtype=np.int64)
    for start in trange(0, len(queries), chunk_size, desc="Querying usearch index", disable=not verbose):
        chunk = np.ascontiguousarray(queries[start : start + chunk_size], dtype=np.float32)
        matches = index.search(chunk, k, exact=True)
        # One query gives a flat Matches, several a BatchMatches with a count per query.
        batch = matches if isinstance(matches, usearch_index.BatchMatches) else None
        counts = batch.counts if batch is not None else [len(matches.keys)]
        for offset, count in enumerate(counts):
            keys = batch.keys[offset] if batch is not None else matches.keys
            distances = batch.distances[offset] if batch is not None else matches.distances
            indices[start + offset, :count] = keys[:count]
            scores[start + offset, :count] = 1.0 - distances[:count]  # the "ip" metric's distance is 1 - <q, d>
    return torch.from_numpy(scores), torch.from_numpy(indices)
