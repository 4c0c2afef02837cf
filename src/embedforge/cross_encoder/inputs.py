"""What ``CrossEncoder.predict`` accepts: one pair or a list of pairs, in the forms sentence-transformers takes."""

from __future__ import annotations

from typing import Any

import numpy as np


def _list_types() -> tuple[type, ...]:
    types: tuple[type, ...] = (list, tuple)
    try:
        from datasets import Column
    except ImportError:  # datasets < 4 has no Column type
        return types
    return (*types, Column)


def is_single_pair(inputs: Any) -> bool:
    """True for one pair (``["q", "d"]``, ``("q", "d")``, a 1-D string array), False for a list of pairs.

    A non-empty list whose first element is itself a list or tuple is a list of pairs; an empty list is an
    empty batch. A 2-D string array is a batch.
    """
    list_types = _list_types()
    if isinstance(inputs, list_types):
        return len(inputs) > 0 and not isinstance(inputs[0], list_types)
    if isinstance(inputs, np.ndarray) and inputs.dtype.kind in ("U", "O"):
        return inputs.size > 0 and inputs.ndim < 2
    return True


def as_pair_list(inputs: Any) -> tuple[bool, list[Any]]:
    """``(single, pairs)``: whether one pair was given, and the pairs as a plain list.

    Raises:
        ValueError: If a pair does not hold exactly two elements.
    """
    single = is_single_pair(inputs)
    if single:
        pairs = [inputs.tolist() if isinstance(inputs, np.ndarray) else inputs]
    elif isinstance(inputs, np.ndarray):
        pairs = inputs.tolist()
    else:
        pairs = list(inputs)
    for index, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(
                f"CrossEncoder.predict expects (query, document) pairs; input {index} is {pair!r}. Pass a list of "
                "2-element lists or tuples, e.g. [('How old is Paris?', 'Paris is 2,000 years old.')]."
            )
    return single, pairs
