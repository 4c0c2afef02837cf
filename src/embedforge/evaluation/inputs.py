"""Checks of evaluator inputs (run at construction, before any encoding) and encoding each text once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from embedforge.evaluation.embedding_cache import active_cache

__all__ = ["check_same_length", "check_texts", "encode_unique", "example_columns"]


def check_texts(owner: str, argument: str, values: Iterable[Any]) -> list[str]:
    """A non-empty list of strings, or a ``ValueError`` that says which argument is wrong and how.

    Args:
        owner: Evaluator class name, for the error message.
        argument: Argument name, for the error message.
        values: The texts (a list, tuple, dataset column...).

    Returns:
        The texts as a list.

    Raises:
        ValueError: If ``values`` is empty or holds something other than strings.
    """
    if isinstance(values, str):
        raise ValueError(
            f"{owner}: `{argument}` must be a list of texts, found a single string {values[:50]!r}. Wrap it in a list."
        )
    texts = list(values)
    if not texts:
        raise ValueError(f"{owner}: `{argument}` must hold at least one text, found an empty list. Pass the texts.")
    bad = next(((index, text) for index, text in enumerate(texts) if not isinstance(text, str)), None)
    if bad is not None:
        index, text = bad
        raise ValueError(
            f"{owner}: `{argument}` must hold only strings, found {type(text).__name__} {text!r} at index {index}. "
            "Convert or drop that entry."
        )
    return texts


def example_columns(owner: str, examples: Sequence[Any], count: int) -> list[list[str]]:
    """The first ``count`` texts of every InputExample, as ``count`` columns (for ``from_input_examples``).

    Args:
        owner: Evaluator class name, for the error message.
        examples: InputExamples with at least ``count`` texts each.
        count: Texts taken from each example (2 for pairs, 3 for triplets).

    Returns:
        ``count`` lists of ``len(examples)`` texts.

    Raises:
        ValueError: Naming the first example with fewer than ``count`` texts.
    """
    rows = [list(example.texts or []) for example in examples]
    short = next(((index, row) for index, row in enumerate(rows) if len(row) < count), None)
    if short is not None:
        index, row = short
        raise ValueError(
            f"{owner}.from_input_examples: every example needs {count} texts, found {len(row)} in example {index} "
            f"({row!r:.80}). Give each InputExample texts=[...] with {count} entries."
        )
    return [[row[column] for row in rows] for column in range(count)]


def check_same_length(owner: str, reference: tuple[str, Sequence[Any]], *others: tuple[str, Sequence[Any]]) -> None:
    """Raise a ``ValueError`` unless every sequence in ``others`` is as long as ``reference``.

    Args:
        owner: Evaluator class name, for the error message.
        reference: ``(argument name, values)`` that the others must match.
        *others: ``(argument name, values)`` pairs.

    Raises:
        ValueError: Naming the first mismatching argument and both lengths.
    """
    reference_name, reference_values = reference
    for name, values in others:
        if len(values) != len(reference_values):
            raise ValueError(
                f"{owner}: `{name}` must have one entry per `{reference_name}` entry ({len(reference_values)}), "
                f"found {len(values)}. Pass sequences of equal length."
            )


def encode_unique(
    encode: Callable[..., np.ndarray], groups: Sequence[Sequence[str]], **kwargs: Any
) -> list[np.ndarray]:
    """Embed the texts of several groups with one ``encode`` call that sees each distinct text once.

    During a :class:`~embedforge.evaluation.SequentialEvaluator` call, texts already embedded by an earlier
    evaluator with the same method and options come from the round's
    :class:`~embedforge.evaluation.embedding_cache.EmbeddingCache`; only the others are encoded.

    Args:
        encode: ``model.encode`` or a role-specific variant such as ``model.encode_query``.
        groups: Lists of texts, e.g. ``[sentences1, sentences2]``.
        **kwargs: Passed to ``encode`` (batch size, precision...); it must return a numpy array ``(n, dim)``.

    Returns:
        One embedding array ``(len(group), dim)`` per group, rows in the group's order.
    """
    index: dict[str, int] = {}
    positions = [np.asarray([index.setdefault(text, len(index)) for text in group], dtype=np.int64) for group in groups]
    cache = active_cache()
    if cache is None:
        embeddings = np.asarray(encode(list(index), **kwargs))
    else:
        embeddings = cache.embed(encode, list(index), **kwargs)
    return [embeddings[rows] for rows in positions]
