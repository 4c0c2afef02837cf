"""How a loss's scoring function is written in its config dict (as sentence-transformers writes it)."""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

__all__ = ["similarity_fct_name"]


def similarity_fct_name(similarity_fct: Callable[..., Any]) -> str:
    """A short readable name for a similarity function, e.g. ``"cos_sim"``.

    A ``functools.partial`` shows its keyword arguments (``"cos_sim(eps=0.1)"``); a model's bound
    ``similarity``/``similarity_pairwise`` method shows the function its ``similarity_fn_name`` resolves to.

    Args:
        similarity_fct: A function, a partial, a bound method or a callable object.

    Returns:
        The function's ``__name__``, or its class name for callable objects.
    """
    if isinstance(similarity_fct, functools.partial):
        inner = similarity_fct_name(similarity_fct.func)
        arguments = ", ".join(f"{key}={value!r}" for key, value in similarity_fct.keywords.items())
        return f"{inner}({arguments})" if arguments else inner
    model_methods = ("similarity", "similarity_pairwise")
    if isinstance(similarity_fct, types.MethodType) and similarity_fct.__name__ in model_methods:
        from embedforge.model.sentence_transformer import SentenceTransformer
        from embedforge.util.similarity_function import SimilarityFunction

        owner = similarity_fct.__self__
        if isinstance(owner, SentenceTransformer):
            pairwise = similarity_fct.__name__ == "similarity_pairwise"
            resolve = SimilarityFunction.to_similarity_pairwise_fn if pairwise else SimilarityFunction.to_similarity_fn
            return resolve(owner.similarity_fn_name).__name__
    if isinstance(similarity_fct, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return similarity_fct.__name__
    return type(similarity_fct).__name__
