"""Checks shared by the cross-encoder evaluators: text pairs, numeric labels, cut-offs, and 1-D predictions.

Each check runs when an evaluator is built (before any model call) and raises a ``ValueError`` that names the
evaluator, the argument, what was expected, what was found and how to fix it.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.evaluation.inputs import check_same_length

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel
    from embedforge.readers import InputExample

__all__ = [
    "check_class_labels",
    "check_pairs",
    "check_scores",
    "default_progress_bar",
    "examples_to_pairs",
    "predict_relevance",
]


def check_pairs(owner: str, pairs: Iterable[Any]) -> list[list[str]]:
    """A non-empty list of ``[first, second]`` text pairs, or a ``ValueError`` naming the bad pair.

    Args:
        owner: Evaluator class name, for the error message.
        pairs: The pairs: lists or tuples of two strings (a 2-D string array works too).

    Returns:
        The pairs as lists of two strings.
    """
    if isinstance(pairs, str):
        raise ValueError(
            f"{owner}: `sentence_pairs` must be a list of (text, text) pairs, found a single string "
            f"{pairs[:50]!r}. Pass e.g. [('A man eats.', 'Someone eats.')]."
        )
    rows = pairs.tolist() if isinstance(pairs, np.ndarray) else list(pairs)
    if not rows:
        raise ValueError(f"{owner}: `sentence_pairs` must hold at least one pair, found none. Pass the pairs.")
    checked = []
    for index, pair in enumerate(rows):
        if (
            isinstance(pair, str)
            or not isinstance(pair, Sequence)
            or len(pair) != 2
            or not all(isinstance(text, str) for text in pair)
        ):
            raise ValueError(
                f"{owner}: `sentence_pairs[{index}]` must be a pair of two texts, found {pair!r:.80}. "
                "Pass each pair as a list or tuple of two strings."
            )
        checked.append([pair[0], pair[1]])
    return checked


def check_class_labels(owner: str, pairs: Sequence[Any], labels: Iterable[Any]) -> np.ndarray:
    """One integer class label per pair (bools and integral floats such as ``1.0`` too), as an int64 array.

    Args:
        owner: Evaluator class name, for the error message.
        pairs: The checked pairs (for the length check).
        labels: The labels.

    Returns:
        The labels, shape ``(n,)``.
    """
    values = list(labels)
    check_same_length(owner, ("sentence_pairs", pairs), ("labels", values))
    bad = next(((i, v) for i, v in enumerate(values) if not _is_integral(v)), None)
    if bad is not None:
        raise ValueError(
            f"{owner}: `labels` must hold class ids (integers), found {bad[1]!r} at index {bad[0]}. "
            "Map the labels to 0, 1, ... (0/1 for a one-label model)."
        )
    return np.asarray([int(value) for value in values], dtype=np.int64)


def check_scores(owner: str, pairs: Sequence[Any], scores: Iterable[Any]) -> list[float]:
    """One real-valued gold score per pair.

    Args:
        owner: Evaluator class name, for the error message.
        pairs: The checked pairs (for the length check).
        scores: The gold scores.

    Returns:
        The scores as floats.
    """
    values = list(scores)
    check_same_length(owner, ("sentence_pairs", pairs), ("scores", values))
    bad = next(((i, v) for i, v in enumerate(values) if not _is_real(v)), None)
    if bad is not None:
        raise ValueError(
            f"{owner}: `scores` must hold numbers, found {bad[1]!r} at index {bad[0]}. Convert the "
            "gold scores to floats."
        )
    return [float(value) for value in values]


def default_progress_bar(show_progress_bar: bool | None, logger: logging.Logger) -> bool:
    """``show_progress_bar``, or (for None) whether ``logger`` logs at INFO or DEBUG level."""
    if show_progress_bar is None:
        return logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
    return bool(show_progress_bar)


def examples_to_pairs(owner: str, examples: Sequence[InputExample]) -> tuple[list[list[str]], list[Any]]:
    """The text pairs and the labels of InputExamples (``from_input_examples``).

    Args:
        owner: Evaluator class name, for the error message.
        examples: InputExamples with two texts each.

    Returns:
        ``(pairs, labels)``.
    """
    from embedforge.evaluation.inputs import example_columns

    firsts, seconds = example_columns(owner, examples, 2)
    return [list(pair) for pair in zip(firsts, seconds, strict=True)], [example.label for example in examples]


def predict_relevance(
    owner: str,
    model: ScoringModel,
    pairs: list[list[str]],
    prompt_name: str | None,
    batch_size: int,
    show_progress_bar: bool,
) -> np.ndarray:
    """One score per pair from a one-label model, ``model.predict`` batching the pairs (activation applied).

    Args:
        owner: Evaluator class name, for the error message.
        model: A cross-encoder with ``num_labels == 1``.
        pairs: The pairs to score.
        prompt_name: Key of ``model.prompts`` put before each query.
        batch_size: Pairs per forward pass.
        show_progress_bar: Show a progress bar.

    Returns:
        Scores, shape ``(n,)``.

    Raises:
        ValueError: If the model has several labels (it gives a score per class, not one per pair).
    """
    if model.num_labels != 1:
        raise ValueError(
            f"{owner} needs a cross-encoder with one output (a relevance score per pair), found "
            f"num_labels={model.num_labels}. Evaluate this model with "
            "CrossEncoderClassificationEvaluator, or use a model with num_labels=1."
        )
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    scores = model.predict(
        pairs,
        prompt_name=prompt_name,
        batch_size=batch_size,
        convert_to_numpy=True,
        show_progress_bar=show_progress_bar,
    )
    return np.asarray(scores).reshape(len(pairs))


def _is_integral(value: Any) -> bool:
    """True for ints and bools (numpy ones included) and for floats with an integral value."""
    if isinstance(value, (numbers.Integral, np.bool_)):
        return True
    return isinstance(value, numbers.Real) and float(value).is_integer()


def _is_real(value: Any) -> bool:
    """True for real numbers and bools (numpy scalars included)."""
    return isinstance(value, (numbers.Real, np.bool_))
