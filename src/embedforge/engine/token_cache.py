"""TokenCache: tokenize each training text once, pad every batch from the cached token ids.

The training collator tokenizes every text column of every batch; over several epochs the same texts are tokenized
again and again. :class:`TokenCache` stands in for the model's ``tokenize``/``preprocess`` in the collator and
returns exactly what the model would, while the tokenizer only ever sees texts it has not seen before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from embedforge.engine.buckets import BUCKET_KEY, bucket_width, check_pad_multiple
from embedforge.model.base import BaseModel
from embedforge.models.base import Features, prepend_prompt
from embedforge.models.transformer import Transformer

__all__ = ["TokenCache"]

_PADDED_COLUMNS = frozenset({"input_ids", "token_type_ids", "attention_mask"})
"""The tokenizer outputs the cache can pad as the tokenizer would (others: the model's own tokenize is used)."""

_MODEL_METHODS = ("tokenize",)
_TRANSFORMER_METHODS = ("tokenize", "preprocess", "_call_tokenizer")
"""Methods of BaseModel and Transformer whose behaviour the cache reproduces: overriding one turns the cache off."""

_CacheKey = tuple[str | None, int | None, str, str | tuple[str, str]]
"""``(prompt, max_length, truncation_side, text or (text, text))``: what decides a text's token ids."""


class TokenCache:
    """The model's ``tokenize`` that tokenizes each distinct input once and pads batches from cached ids.

    Calling the cache as ``cache(texts, prompt=..., task=..., max_length=...)`` returns exactly what
    ``model.tokenize`` returns for the same call: the same keys, dtypes, shapes and values, with ``prompt_length``
    when a prompt is used. A text is tokenized (unpadded, with the model's truncation) the first time it is seen with
    a given prompt and ``max_length``; afterwards its ids come from the cache, and each batch is padded to its longest
    text with the tokenizer's pad values, on the tokenizer's ``padding_side`` (with ``pad_to_multiple_of``: up to
    the next multiple of that many tokens, see :mod:`embedforge.engine.buckets`; only then do the features differ
    from ``model.tokenize``'s: by padding positions, and the bucket size under ``BUCKET_KEY``).

    The cache serves models whose first module is a text :class:`~embedforge.models.transformer.Transformer` with a
    fast tokenizer, for batches of strings or of ``(str, str)`` pairs. It decides per call, with a few type checks,
    and passes anything else to ``model.tokenize`` unchanged: other input modules (Router, CLIP, StaticEmbedding),
    non-string inputs, slow tokenizers, tokenizers without a pad token or with inputs other than ``input_ids``,
    ``token_type_ids`` and ``attention_mask``, and subclasses that override how tokenizing is done. ``task`` does not
    change what a Transformer's tokenizer produces, so it is not part of the cache key. Replacing the model's
    tokenizer empties the cache; after changing a tokenizer in place (added tokens, a new normalizer), call
    :meth:`clear`.

    Memory: each entry holds its text (a Python string: about 50 bytes plus its length), a ``(columns, tokens)``
    int32 array (4 bytes per token and column: 12 bytes per token for BERT's three columns) and about 200 bytes of
    bookkeeping (measured); for example about 2 KB for a 128-token BERT input of 100 characters, 2 GB for a million
    of them. ``max_entries`` bounds the number of entries (the least recently used ones are dropped first).

    The cache pickles with its entries and its model (as ``model.tokenize`` itself would), so it works in DataLoader
    workers started with ``spawn`` as well as ``fork``. Each worker then holds its own copy and fills it
    independently: a text is tokenized at most once per worker, and the workers' caches last only as long as the
    workers do (use persistent workers to keep them across epochs).

    Args:
        model: The model whose ``tokenize`` the cache reproduces (any object with a ``tokenize`` method; only an
            embedforge model whose first module is a Transformer is cached).
        max_entries: Most entries kept; None (default) keeps every entry for the cache's lifetime.
        pad_to_multiple_of: Pad each batch up to a multiple of this many tokens (capped at the call's token limit),
            so that batch widths repeat (compiled code, CUDA graphs); None (default) pads to the longest text.
            Applies to the batches the cache serves; the calls it passes to ``model.tokenize`` keep their width.

    Attributes:
        hits: Texts served from the cache so far.
        misses: Texts tokenized so far.

    Raises:
        ValueError: If ``max_entries`` is below 1, or ``pad_to_multiple_of`` is not a positive int or None.

    Example:
        >>> cache = TokenCache(model)  # doctest: +SKIP
        >>> features = cache(["A man plays."], prompt="query: ")  # doctest: +SKIP
        >>> features["input_ids"].shape  # (batch, seq_len)  # doctest: +SKIP
    """

    def __init__(self, model: Any, max_entries: int | None = None, pad_to_multiple_of: int | None = None) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError(
                f"TokenCache max_entries must be at least 1 or None (unbounded), got {max_entries}. Pass None to "
                "keep every tokenized text."
            )
        self.model = model
        self.max_entries = max_entries
        self.pad_to_multiple_of = check_pad_multiple(pad_to_multiple_of)
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[_CacheKey, np.ndarray] = OrderedDict()
        self._tokenizer: Any = None
        self._columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        """Number of cached entries."""
        return len(self._entries)

    def clear(self) -> None:
        """Drop every cached entry (the next batches are tokenized again)."""
        self._entries.clear()
        self._columns = ()

    def __call__(
        self,
        texts: Sequence[Any],
        prompt: str | None = None,
        task: str | None = None,
        max_length: int | None = None,
        **kwargs: Any,
    ) -> Features:
        """Tokenize a batch as ``model.tokenize(texts, prompt=prompt, task=task, max_length=max_length, **kwargs)``.

        Args:
            texts: The texts of one batch, or ``(text, text)`` pairs.
            prompt: Instruction prepended to every text (to the first text of a pair).
            task: The route of a Router model; a Transformer's tokens do not depend on it.
            max_length: Token limit for this call; None: the model's ``max_seq_length``.
            **kwargs: Passed to the model's ``tokenize`` (and its ``prompt_length``), as the model would.

        Returns:
            ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the tokenizer makes them), int64 tensors
            of shape ``(batch, seq_len)``; ``prompt_length`` (int) when a prompt is used.
        """
        if task is not None:
            kwargs["task"] = task
        if max_length is not None:
            kwargs["max_length"] = max_length
        texts = list(texts)
        module = self._cacheable_module(texts)
        if module is None:
            if prompt is not None:
                kwargs["prompt"] = prompt
            return self.model.tokenize(texts, **kwargs)
        prompt = prompt or None
        limit = max_length if max_length is not None else module.max_seq_length
        keys = [(prompt, limit, module.tokenizer.truncation_side, _as_key(text)) for text in texts]
        arrays = self._lookup(keys, module.tokenizer)
        features = _pad(arrays, self._columns, module.tokenizer, self.pad_to_multiple_of, limit)
        if self.pad_to_multiple_of is not None:
            features[BUCKET_KEY] = self.pad_to_multiple_of
        if prompt is not None:
            length = module.prompt_length(prompt, **kwargs)
            if length is not None:
                features["prompt_length"] = length
        return features

    # ------------------------------------------------------------------ lookup
    def _cacheable_module(self, texts: list[Any]) -> Transformer | None:
        """The model's Transformer when this call can be served from the cache, else None (use the model)."""
        model = self.model
        if not isinstance(model, BaseModel) or len(model) == 0 or not texts:
            return None
        module = model[0]
        if (
            not isinstance(module, Transformer)
            or _overrides(model, BaseModel, _MODEL_METHODS)
            or _overrides(module, Transformer, _TRANSFORMER_METHODS)
        ):
            return None
        tokenizer = module.tokenizer
        if not (
            isinstance(tokenizer, PreTrainedTokenizerBase)
            and tokenizer.is_fast
            and tokenizer.pad_token_id is not None
            and tokenizer.padding_side in ("left", "right")
            and set(tokenizer.model_input_names) <= _PADDED_COLUMNS
            and _plain_texts(texts)
        ):
            return None
        if tokenizer is not self._tokenizer:  # a new tokenizer: ids cached with the old one no longer apply
            self.clear()
            self._tokenizer = tokenizer
        return module

    def _lookup(self, keys: list[_CacheKey], tokenizer: PreTrainedTokenizerBase) -> list[np.ndarray]:
        """The cached ``(columns, tokens)`` ids of every key, tokenizing the keys not cached yet (once each)."""
        found: dict[_CacheKey, np.ndarray] = {}
        unseen: dict[_CacheKey, None] = {}
        for key in keys:
            if key in found or key in unseen:
                continue
            array = self._entries.get(key)
            if array is None:
                unseen[key] = None
            else:
                found[key] = array
                if self.max_entries is not None:
                    self._entries.move_to_end(key)
        self.misses += len(unseen)
        self.hits += len(keys) - len(unseen)
        by_space: dict[tuple[Any, ...], list[_CacheKey]] = {}
        for key in unseen:
            by_space.setdefault(key[:3], []).append(key)
        for space_keys in by_space.values():
            found.update(zip(space_keys, self._encode(space_keys, tokenizer), strict=True))
            self._store(space_keys, found)
        return [found[key] for key in keys]

    def _encode(self, keys: list[_CacheKey], tokenizer: PreTrainedTokenizerBase) -> list[np.ndarray]:
        """Tokenize the texts of ``keys`` (same prompt, limit and truncation side) without padding."""
        prompt, limit = keys[0][0], keys[0][1]
        texts: list[Any] = [key[3] for key in keys]
        if prompt is not None:
            texts = prepend_prompt(texts, prompt)
        first, second = texts, None
        if isinstance(texts[0], tuple):
            first, second = [pair[0] for pair in texts], [pair[1] for pair in texts]
        encoded = tokenizer(first, second, padding=False, truncation="longest_first", max_length=limit)
        columns = tuple(encoded.keys())
        if self._columns and columns != self._columns:
            raise RuntimeError(
                f"TokenCache: the tokenizer now returns the columns {columns}, its cached entries have "
                f"{self._columns}; the tokenizer was changed in place. Call clear() on the cache after changing it."
            )
        self._columns = columns
        rows = [encoded[name] for name in columns]
        return [np.array([row[index] for row in rows], dtype=np.int32) for index in range(len(keys))]

    def _store(self, keys: list[_CacheKey], found: dict[_CacheKey, np.ndarray]) -> None:
        """Cache the ids of ``keys``, then drop the least recently used entries beyond ``max_entries``."""
        for key in keys:
            self._entries[key] = found[key]
        if self.max_entries is not None:
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _overrides(obj: Any, owner: type, names: tuple[str, ...]) -> bool:
    """Whether ``obj`` (an instance of ``owner``) replaces one of the methods ``names`` (in its class or itself)."""
    return any(getattr(type(obj), name) is not getattr(owner, name) or name in vars(obj) for name in names)


def _plain_texts(texts: list[Any]) -> bool:
    """Whether ``texts`` are all strings, or all ``(str, str)`` pairs (tuples or lists)."""
    if isinstance(texts[0], str):
        return all(isinstance(text, str) for text in texts)
    return all(
        isinstance(text, (tuple, list)) and len(text) == 2 and isinstance(text[0], str) and isinstance(text[1], str)
        for text in texts
    )


def _as_key(text: Any) -> str | tuple[str, str]:
    """A hashable form of one input: the string itself, or a pair as a tuple."""
    return text if isinstance(text, str) else (text[0], text[1])


def _pad(
    arrays: list[np.ndarray],
    columns: tuple[str, ...],
    tokenizer: PreTrainedTokenizerBase,
    multiple: int | None = None,
    limit: int | None = None,
) -> Features:
    """Pad the ``(columns, tokens)`` id arrays of one batch into int64 tensors ``(batch, width)`` per column.

    Pads as the tokenizer's ``padding=True`` does: ``input_ids`` with ``pad_token_id``, ``token_type_ids`` with
    ``pad_token_type_id``, ``attention_mask`` with 0, on the tokenizer's ``padding_side``; ``width`` is the longest
    text's length, rounded up by :func:`~embedforge.engine.buckets.bucket_width` when ``multiple`` is set.
    """
    lengths = np.fromiter((array.shape[1] for array in arrays), dtype=np.int64, count=len(arrays))
    longest = bucket_width(int(lengths.max()), multiple, limit)
    positions = np.arange(longest)
    if tokenizer.padding_side == "left":
        mask = positions >= (longest - lengths)[:, None]
    else:
        mask = positions < lengths[:, None]
    flat = np.concatenate(arrays, axis=1)  # (columns, total tokens), row after row as the mask fills them
    pad_values = {"input_ids": tokenizer.pad_token_id, "token_type_ids": tokenizer.pad_token_type_id}
    features: Features = {}
    for index, name in enumerate(columns):
        padded = np.full((len(arrays), longest), pad_values.get(name, 0), dtype=np.int64)
        padded[mask] = flat[index]
        features[name] = torch.from_numpy(padded)
    return features
