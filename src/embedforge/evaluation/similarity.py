"""Which similarity functions an evaluator scores with, resolved as sentence-transformers 6.2 does.

``similarity_fn_names`` lists the functions to score with; ``main_similarity`` (or
``main_similarity_function``) picks the one that gives the primary metric. With neither, the evaluator scores
with the model's own ``similarity_fn_name`` only, decided when it is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from embedforge.util.similarity_function import SimilarityFn, SimilarityFunction

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["model_fn_names", "pairwise_similarity", "resolve_fn_names", "resolve_main_similarity"]


def _known_names() -> list[str]:
    return SimilarityFunction.possible_values()


def _as_name(value: str | SimilarityFunction) -> str | None:
    """The value of a member or a known name; None for anything else."""
    if isinstance(value, SimilarityFunction):
        return value.value
    if isinstance(value, str) and value in _known_names():
        return value
    return None


def resolve_main_similarity(
    value: str | SimilarityFunction | None, *, owner: str, argument: str
) -> SimilarityFunction | None:
    """The main similarity function as a member, or None when not given.

    Args:
        value: A name such as ``"cosine"``, a :class:`SimilarityFunction` member, or None (or ``""``).
        owner: Evaluator class name, for the error message.
        argument: Argument name, for the error message.

    Returns:
        The member, or None.

    Raises:
        ValueError: If ``value`` names no similarity function.
    """
    if value is None or value == "":
        return None
    name = _as_name(value)
    if name is None:
        raise ValueError(
            f"{owner}: `{argument}` must be one of {_known_names()} or a SimilarityFunction member, got "
            f"{value!r}. Pass e.g. {argument}='cosine', or leave it None to use the model's similarity function."
        )
    return SimilarityFunction(name)


def resolve_fn_names(
    names: Sequence[str | SimilarityFunction] | None, main: SimilarityFunction | None, *, owner: str, main_argument: str
) -> tuple[str, ...]:
    """Validate ``similarity_fn_names``; default to the main function, else to none (= the model's).

    Args:
        names: The requested function names (or members), in the order the metrics should follow.
        main: The resolved main similarity function, or None.
        owner: Evaluator class name, for error messages.
        main_argument: Name of the evaluator's main-similarity argument, for error messages.

    Returns:
        The function names (values such as ``"dot"``); empty when the model's own function is to be used.

    Raises:
        ValueError: For unknown or repeated names, or a main function missing from ``names``.
    """
    if not names:
        return (main.value,) if main is not None else ()
    resolved = tuple(_as_name(name) for name in names)
    unknown = [name for name, value in zip(names, resolved, strict=True) if value is None]
    if unknown:
        raise ValueError(
            f"{owner}: `similarity_fn_names` must hold names from {_known_names()}, found unknown {unknown}. "
            "Remove them or use one of the known names."
        )
    result = tuple(name for name in resolved if name is not None)
    if len(set(result)) != len(result):
        raise ValueError(
            f"{owner}: `similarity_fn_names` must not repeat a name, got {list(result)}. List each function once."
        )
    if main is not None and main.value not in result:
        raise ValueError(
            f"{owner}: `{main_argument}`={main.value!r} must be one of `similarity_fn_names` {list(result)}, "
            f"since it gives the primary metric. Add {main.value!r} to similarity_fn_names or drop {main_argument}."
        )
    return result


def model_fn_names(names: tuple[str, ...], model: EmbeddingModel) -> tuple[str, ...]:
    """The names to score with: ``names``, or the model's ``similarity_fn_name`` when ``names`` is empty.

    Args:
        names: Result of :func:`resolve_fn_names`.
        model: The evaluated model.

    Returns:
        At least one function name.
    """
    return names or (SimilarityFunction(model.similarity_fn_name).value,)


def pairwise_similarity(name: str) -> SimilarityFn:
    """The pairwise function for a name: embeddings ``(n, dim)`` and ``(n, dim)`` to scores ``(n,)``.

    Args:
        name: A known similarity function name.

    Returns:
        E.g. :func:`~embedforge.util.pairwise_cos_sim` for ``"cosine"``.
    """
    return SimilarityFunction.to_similarity_pairwise_fn(name)
