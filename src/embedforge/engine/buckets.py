"""Bucketed batch widths: pad each batch up to a multiple of a few tokens, so that batch shapes repeat.

A batch padded to its longest text has a new width almost every step. Compiled code specialised to a shape, and
CUDA graphs above all (one recorded graph per input shape), then meet a new shape at almost every step; padding up
to the next multiple of, say, 32 tokens leaves a handful of widths per dataset. The extra positions are padding
(attention mask 0), so the embeddings do not change (``tests/unit/engine/test_buckets.py``): the price is the
compute spent on them, a few percent at a multiple of 32 for texts of 100 tokens and more.
"""

from __future__ import annotations

__all__ = ["BUCKET_KEY", "bucket_width", "check_pad_multiple"]

BUCKET_KEY = "pad_to_multiple_of"
"""Key under which bucketed features record their bucket size (an int), so that later cuts of the batch (the cached
losses' mini-batches, :func:`embedforge.losses.minibatch.slice_features`) keep to the buckets."""


def check_pad_multiple(value: object) -> int | None:
    """``value`` when it is None or a positive int, else a ValueError naming what was expected and the fix.

    Args:
        value: The ``pad_to_multiple_of`` setting to check.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: If ``value`` is not None and not an int of at least 1.
    """
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(
        "pad_to_multiple_of expects a positive number of tokens (e.g. 32) or None (pad each batch to its longest "
        f"text), got {value!r}."
    )


def bucket_width(longest: int, multiple: int | None, limit: int | None = None) -> int:
    """The width a batch whose longest text has ``longest`` tokens is padded to.

    ``longest`` rounded up to a multiple of ``multiple``, but never past ``limit`` (the token limit the texts were
    truncated to, so that no position beyond the model's position embeddings appears) unless ``longest`` itself is
    past it.

    Args:
        longest: Tokens of the batch's longest text.
        multiple: Bucket size in tokens; None keeps ``longest``.
        limit: Token limit of the call (``max_length`` or the model's ``max_seq_length``); None: no cap.

    Returns:
        The padded width, at least ``longest``.

    Example:
        >>> bucket_width(37, 32), bucket_width(37, 32, limit=50), bucket_width(64, 32), bucket_width(37, None)
        (64, 50, 64, 37)
    """
    if multiple is None or longest % multiple == 0:
        return longest
    width = (longest // multiple + 1) * multiple
    if limit is not None:
        width = min(width, max(limit, longest))
    return width
