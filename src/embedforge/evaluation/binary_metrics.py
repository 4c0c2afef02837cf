"""Pure metrics of binary pair classification by score threshold (no models, no I/O).

Scores are similarities (higher means "same class") or distances (lower means "same class"); the threshold searches
follow sentence-transformers 6.2 exactly: candidate thresholds lie midway between consecutive distinct scores, and
of several thresholds with the best value the one reached first, going from the most to the least similar pair,
wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "average_precision",
    "best_accuracy_and_threshold",
    "best_f1_and_threshold",
    "matthews_correlation",
    "predict_similar",
]


@dataclass(frozen=True)
class _Ranking:
    """Pairs sorted from most to least similar, summarized at the end of each group of equal scores.

    Attributes:
        scores: All scores, most similar first, shape ``(n,)``.
        ends: Index (in ``scores``) of the last pair of each group of equal scores, shape ``(groups,)``.
        positives: Positive pairs among the pairs up to each group end, shape ``(groups,)``.
        counts: Pairs up to each group end, shape ``(groups,)``.
    """

    scores: np.ndarray
    ends: np.ndarray
    positives: np.ndarray
    counts: np.ndarray


def _rank(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, high_is_similar: bool) -> _Ranking:
    """Sort the pairs from most to least similar and group equal scores."""
    values = np.asarray(scores)
    gold = np.asarray(labels)
    if values.shape != gold.shape or values.ndim != 1:
        raise ValueError(
            f"scores and labels must be flat arrays of the same length, found shapes {values.shape} and "
            f"{gold.shape}. Pass one score and one 0/1 label per pair."
        )
    order = np.argsort(values, kind="stable")
    if high_is_similar:
        order = order[::-1]
    ordered = values[order]
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True)) if len(ordered) else np.zeros(0, np.int64)
    positives = np.cumsum(gold[order] == 1)[ends]
    return _Ranking(ordered, ends, positives, ends + 1)


def _threshold_after(ranking: _Ranking, group: int) -> float:
    """Threshold that keeps the pairs up to the end of ``group`` on the similar side and the rest on the other.

    Midway between the group's score and the next distinct score (in the scores' dtype), the group's score for the
    last group or when the rounded midpoint would equal the next score.
    """
    end = ranking.ends[group]
    score = ranking.scores[end]
    if end == len(ranking.scores) - 1:
        return score
    following = ranking.scores[end + 1]
    midpoint = (score + following) / 2
    return float(score if midpoint == following else midpoint)


def best_accuracy_and_threshold(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, high_score_more_similar: bool
) -> tuple[float, float]:
    """Highest accuracy of "similar iff score passes the threshold", and that threshold.

    The search starts from the threshold that calls every pair dissimilar (just beyond the most similar score);
    another threshold is chosen only if it is strictly more accurate.

    Args:
        scores: One score per pair, shape ``(n,)``.
        labels: 1 for similar pairs, 0 for dissimilar ones, shape ``(n,)``.
        high_score_more_similar: True for similarities (similar iff ``score >= threshold``), False for
            distances (similar iff ``score <= threshold``).

    Returns:
        ``(accuracy, threshold)``; ``(0, -1)`` for no pairs.

    Example:
        >>> accuracy, threshold = best_accuracy_and_threshold([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 1], True)
        >>> accuracy, round(threshold, 4)
        (0.75, 0.55)
    """
    ranking = _rank(scores, labels, high_score_more_similar)
    total = len(ranking.scores)
    if total == 0:
        return 0.0, -1.0
    negatives = int(np.sum(np.asarray(labels) == 0))
    all_dissimilar = negatives / total
    accuracies = (ranking.positives + negatives - (ranking.counts - ranking.positives)) / total
    best = int(np.argmax(accuracies))
    if accuracies[best] > all_dissimilar:
        return float(accuracies[best]), _threshold_after(ranking, best)
    dtype = np.result_type(ranking.scores.dtype, np.float16)
    beyond = np.nextafter(ranking.scores[0], np.inf if high_score_more_similar else -np.inf, dtype=dtype)
    return all_dissimilar, float(beyond)


def best_f1_and_threshold(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, high_score_more_similar: bool
) -> tuple[float, float, float, float]:
    """Highest F1 of "similar iff score passes the threshold", with its precision, recall and threshold.

    Args:
        scores: One score per pair, shape ``(n,)``.
        labels: 1 for similar pairs, 0 for dissimilar ones, shape ``(n,)``.
        high_score_more_similar: True for similarities, False for distances.

    Returns:
        ``(f1, precision, recall, threshold)``; all 0 when no pair is labelled 1.

    Example:
        >>> f1, precision, recall, threshold = best_f1_and_threshold([0.9, 0.8, 0.3, 0.1], [1, 0, 0, 1], True)
        >>> round(f1, 4), precision, recall, round(threshold, 4)
        (0.6667, 1.0, 0.5, 0.85)
    """
    ranking = _rank(scores, labels, high_score_more_similar)
    total_positives = int(np.sum(np.asarray(labels)))
    found = ranking.positives > 0
    if not np.any(found):
        return 0.0, 0.0, 0.0, 0.0
    precision = np.where(found, ranking.positives / ranking.counts, 0.0)
    recall = np.where(found, ranking.positives / max(total_positives, 1), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(found, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(precision[best]), float(recall[best]), _threshold_after(ranking, best)


def predict_similar(scores: np.ndarray, threshold: float, high_score_more_similar: bool) -> np.ndarray:
    """Predicted labels at ``threshold``: ``scores >= threshold`` (similarities) or ``<=`` (distances).

    Args:
        scores: Shape ``(n,)``.
        threshold: The decision threshold.
        high_score_more_similar: True for similarities, False for distances.

    Returns:
        Boolean predictions, shape ``(n,)``.
    """
    return scores >= threshold if high_score_more_similar else scores <= threshold


def average_precision(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Average precision of ranking pairs by decreasing score (as ``sklearn.metrics.average_precision_score``).

    ``AP = sum_k (R_k - R_{k-1}) * P_k`` over the distinct scores ``k`` from highest to lowest, where ``P_k`` and
    ``R_k`` are the precision and recall of calling every pair with a score at least ``k`` positive.

    Args:
        labels: 1 for positive pairs, 0 for negative ones, shape ``(n,)``.
        scores: Higher means more likely positive, shape ``(n,)``.

    Returns:
        The average precision; 0 when no pair is positive.

    Example:
        >>> average_precision([1, 0, 1], [0.9, 0.8, 0.3])
        0.8333333333333333
    """
    ranking = _rank(scores, labels, high_is_similar=True)
    if len(ranking.positives) == 0 or ranking.positives[-1] == 0:
        return 0.0
    precision = ranking.positives / ranking.counts
    recall = ranking.positives / ranking.positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def matthews_correlation(labels: Sequence[int] | np.ndarray, predicted: Sequence[bool] | np.ndarray) -> float:
    """Matthews correlation coefficient of binary predictions (as ``sklearn.metrics.matthews_corrcoef``).

    ``MCC = (TP * TN - FP * FN) / sqrt((TP + FP)(TP + FN)(TN + FP)(TN + FN))``, and 0 when a factor is 0.

    Args:
        labels: Gold 0/1 labels, shape ``(n,)``.
        predicted: Predicted labels (0/1 or booleans), shape ``(n,)``.

    Returns:
        The coefficient in ``[-1, 1]``.

    Example:
        >>> matthews_correlation([1, 1, 0, 0], [1, 0, 0, 0])
        0.5773502691896258
    """
    gold = np.asarray(labels) == 1
    guess = np.asarray(predicted).astype(bool)
    total = float(len(gold))
    true_counts = np.array([np.sum(~gold), np.sum(gold)], dtype=np.float64)
    predicted_counts = np.array([np.sum(~guess), np.sum(guess)], dtype=np.float64)
    correct = float(np.sum(gold == guess))
    covariance = correct * total - float(true_counts @ predicted_counts)
    predicted_variance = total**2 - float(predicted_counts @ predicted_counts)
    true_variance = total**2 - float(true_counts @ true_counts)
    if predicted_variance * true_variance == 0:
        return 0.0
    return float(covariance / np.sqrt(true_variance * predicted_variance))
