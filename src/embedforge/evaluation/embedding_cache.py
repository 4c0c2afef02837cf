"""Embeddings shared by the evaluators of one evaluation round (one model state).

A :class:`~embedforge.evaluation.SequentialEvaluator` call opens an :class:`EmbeddingCache` for its duration;
every evaluator embeds through :func:`embedforge.evaluation.inputs.encode_unique`, which asks the open cache
first. A text that two evaluators need (the same sentences in an STS and a binary-classification set, a query
scored by a reranker and by a retrieval evaluator) is then embedded once. The model does not change during the
call, so entries stay valid until it ends; they are dropped with the cache. Outside such a call nothing is
cached (each evaluator still embeds each distinct text once).

Entries are keyed by the model and every option that changes the vectors; options that only change how the work
is done (``batch_size``, ``show_progress_bar``) are left out of the key. For an embedforge SentenceTransformer's
``encode``, ``encode_query`` and ``encode_document`` the key holds what reaches the model: the prompt *text* the
call resolves to (so ``encode_query`` on a model without a query prompt shares entries with ``encode``, and
``prompt="query: "`` shares them with ``prompt_name="query"``) and the ``task`` only if the model routes by task
(a Router module). Other encode functions are keyed by the function and their options as given.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from embedforge.model.sentence_transformer import SentenceTransformer

__all__ = ["EmbeddingCache", "active_cache", "shared_embeddings"]

_NOT_IN_KEY = frozenset({"batch_size", "show_progress_bar", "chunk_size"})
_ACTIVE: ContextVar[EmbeddingCache | None] = ContextVar("embedforge_embedding_cache", default=None)


class EmbeddingCache:
    """Embeddings computed during one evaluation round, per key (model, resolved prompt, options; see above) and text.

    Attributes:
        computed: Texts the model embedded through this cache.
        reused: Texts served from the cache instead.
    """

    def __init__(self) -> None:
        self._tables: dict[Hashable, dict[str, np.ndarray]] = {}
        self.computed = 0
        self.reused = 0

    def embed(self, encode: Callable[..., Any], texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Embeddings ``(len(texts), dim)`` of ``texts``, embedding only those not seen with the same key.

        Args:
            encode: A bound encode method of a model (``model.encode``, ``model.encode_query``...); it must return
                a numpy array for ``convert_to_numpy=True``.
            texts: Distinct texts.
            **kwargs: Options for ``encode``.

        Returns:
            One row per text, in order.
        """
        table = self._tables.setdefault(_key(encode, kwargs), {})
        missing = [text for text in texts if text not in table]
        if missing:
            vectors = np.asarray(encode(missing, **kwargs))
            table.update(zip(missing, vectors, strict=True))
            self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        if not texts:
            return np.asarray(encode([], **kwargs))
        return np.stack([table[text] for text in texts])


def active_cache() -> EmbeddingCache | None:
    """The cache of the evaluation round in progress, or None outside one."""
    return _ACTIVE.get()


@contextmanager
def shared_embeddings() -> Iterator[EmbeddingCache]:
    """Open a cache for the enclosed evaluations (or join the one already open).

    Yields:
        The open cache.
    """
    outer = _ACTIVE.get()
    if outer is not None:
        yield outer
        return
    cache = EmbeddingCache()
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def _key(encode: Callable[..., Any], kwargs: dict[str, Any]) -> Hashable:
    """``(model id, method, options)``; unhashable option values enter by their ``repr``."""
    owner = getattr(encode, "__self__", None)  # a bound method's model; plain functions key by themselves
    name = getattr(encode, "__name__", repr(encode))
    if name in _ROLES and _is_sentence_transformer(owner):
        return _model_key(owner, name, kwargs)
    return (id(owner) if owner is not None else id(encode), name, _options(kwargs))


_ROLES: dict[str, str | None] = {"encode": None, "encode_query": "query", "encode_document": "document"}


def _is_sentence_transformer(owner: Any) -> bool:
    from embedforge.model.sentence_transformer import SentenceTransformer

    return isinstance(owner, SentenceTransformer)


def _model_key(model: SentenceTransformer, method: str, kwargs: dict[str, Any]) -> Hashable:
    """The key of a SentenceTransformer encode call: resolved prompt text, task only for routed models."""
    from embedforge.models.router import Router

    role = _ROLES[method]
    options = {**_encode_defaults(), **(model.role_encode_kwargs(role, kwargs) if role is not None else kwargs)}
    prompt, prompt_name = options.pop("prompt", None), options.pop("prompt_name", None)
    if prompt is None:
        name = prompt_name if prompt_name is not None else model.default_prompt_name
        # An unknown name keeps its own key; encode itself reports it.
        prompt = model.prompts.get(name, ("unknown prompt_name", name)) if name is not None else None
    task = options.pop("task", None)
    routed = any(isinstance(module, Router) for module in model)
    return (id(model), "encode", _hashable(prompt or None), task if routed else None, _options(options))


@functools.cache
def _encode_defaults() -> dict[str, Any]:
    """``SentenceTransformer.encode``'s keyword defaults (an option left out keys as one passed at its default)."""
    from embedforge.model.sentence_transformer import SentenceTransformer

    parameters = inspect.signature(SentenceTransformer.encode).parameters.values()
    return {
        parameter.name: parameter.default
        for parameter in parameters
        if parameter.default is not inspect.Parameter.empty and parameter.name not in ("sentences", "pool")
    }


def _options(kwargs: dict[str, Any]) -> tuple[tuple[str, Hashable], ...]:
    return tuple(sorted((key, _hashable(value)) for key, value in kwargs.items() if key not in _NOT_IN_KEY))


def _hashable(value: Any) -> Hashable:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
