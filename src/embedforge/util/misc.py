"""Small helpers: class names and imports by dotted path, logging and caching switches, CSV appends.

At the path sentence-transformers names ``util.misc``.
"""

from __future__ import annotations

import csv
import functools
import importlib
import inspect
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from embedforge.util._transformer_model_names import ORIGINAL_TRANSFORMER_MODELS

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "ORIGINAL_TRANSFORMER_MODELS",
    "append_to_last_row",
    "check_teacher_targets",
    "disable_datasets_caching",
    "disable_logging",
    "fullname",
    "import_from_string",
    "import_module_class",
    "similarity_fct_name",
]

logger = logging.getLogger(__name__)

# Class references under these prefixes name our own classes and are resolved without trust_remote_code.
_OWN_PREFIXES = ("sentence_transformers.", "embedforge.")


def fullname(obj: Any) -> str:
    """The dotted ``module.ClassName`` of a class, or of an object's class; builtins give only the class name.

    Args:
        obj: A class or an instance.

    Returns:
        E.g. ``"embedforge.losses.cosent.CoSENTLoss"``, or ``"int"`` for ``3``.
    """
    cls = obj if inspect.isclass(obj) else type(obj)
    module = cls.__module__
    if module is None or module == "builtins":
        return cls.__name__
    return f"{module}.{cls.__name__}"


def _model_similarity_name(similarity_fct: Callable[..., Any], name: str) -> str | None:
    """The resolved function name of a model's bound ``similarity``/``similarity_pairwise`` method, else None."""
    if name not in ("similarity", "similarity_pairwise"):
        return None
    fn_name = getattr(getattr(similarity_fct, "__self__", None), "similarity_fn_name", None)
    if fn_name is None:
        return None
    from embedforge.util.similarity_function import SimilarityFunction

    if name == "similarity":
        return SimilarityFunction.to_similarity_fn(fn_name).__name__
    return SimilarityFunction.to_similarity_pairwise_fn(fn_name).__name__


def similarity_fct_name(similarity_fct: Callable[..., Any]) -> str:
    """How a loss's scoring callable is written in its config dict.

    A ``functools.partial`` shows its keyword arguments (``"cos_sim(eps=0.1)"``); a model's bound ``similarity``
    or ``similarity_pairwise`` method shows the function its ``similarity_fn_name`` resolves to; a callable object
    with a ``get_config_dict()`` method shows its settings (``"Metric(k=3)"``).

    Args:
        similarity_fct: A function, partial, bound method or callable object.

    Returns:
        The readable name.
    """
    if isinstance(similarity_fct, functools.partial):
        inner = getattr(similarity_fct.func, "__name__", type(similarity_fct.func).__name__)
        arguments = ", ".join(f"{key}={value!r}" for key, value in similarity_fct.keywords.items())
        return f"{inner}({arguments})" if arguments else inner
    name = getattr(similarity_fct, "__name__", type(similarity_fct).__name__)
    model_name = _model_similarity_name(similarity_fct, name)
    if model_name is not None:
        return model_name
    get_config_dict = getattr(similarity_fct, "get_config_dict", None)
    if get_config_dict is not None:
        arguments = ", ".join(f"{key}={value!r}" for key, value in get_config_dict().items())
        return f"{name}({arguments})"
    return name


def check_teacher_targets(
    teacher_probabilities: Tensor, teacher_logits: Tensor, teacher_temperature: float, loss_name: str
) -> None:
    """Check a distillation loss's teacher target; meant to run once, on the loss's first batch.

    Warns when the temperature makes some teacher probabilities underflow to exactly 0 (those candidates then get
    no gradient). Infinite teacher scores mark deliberately excluded candidates and skip the check.

    Args:
        teacher_probabilities: The softmaxed teacher target, shape ``(batch, candidates)``.
        teacher_logits: The raw teacher scores it came from, same shape.
        teacher_temperature: The temperature already applied to ``teacher_logits``.
        loss_name: The loss class name, to start the messages with.

    Raises:
        ValueError: If the teacher scores contain NaN (the loss and all gradients would become NaN).
    """
    scores = teacher_logits.detach().float()
    if scores.isnan().any():
        raise ValueError(
            f"{loss_name}: the teacher scores contain NaN, so the loss and every gradient would be NaN after the "
            "first backward. Check the dataset column holding the teacher scores."
        )
    if scores.isinf().any():
        return
    underflowed = int((teacher_probabilities == 0).sum())
    if underflowed == 0:
        return
    spread = (scores.max(dim=-1).values - scores.min(dim=-1).values).max().item()
    logger.warning(
        f"{loss_name}: teacher_temperature={teacher_temperature} underflows {underflowed} of "
        f"{teacher_probabilities.numel()} teacher scores to exactly zero, so those candidates carry no gradient. "
        f"The widest candidate row spans {spread:.1f}, and a float32 softmax underflows once a row's spread divided "
        f"by the temperature exceeds about 100. Raise teacher_temperature above {spread / 100:.3g}."
    )


def import_from_string(dotted_path: str) -> Any:
    """Import ``package.module.Name`` and return ``Name``.

    Args:
        dotted_path: A module path followed by an attribute name, e.g. ``"collections.OrderedDict"``.

    Returns:
        The attribute (usually a class).

    Raises:
        ImportError: If the path has no dot, the module cannot be imported, or it lacks the attribute.
    """
    module_path, dot, attribute = dotted_path.rpartition(".")
    if not dot:
        raise ImportError(f"{dotted_path} doesn't look like a module path: expected 'package.module.Name'.")
    # Paths come from model configurations, not from user code: their deprecation warnings are noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            module = importlib.import_module(dotted_path)
        except ImportError:
            module = importlib.import_module(module_path)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f'Module "{module_path}" does not define a "{attribute}" attribute/class') from None


def _own_class(class_ref: str) -> type:
    """Resolve a ``sentence_transformers.*`` / ``embedforge.*`` reference through the module registry.

    Raises:
        ImportError: For a ``sentence_transformers.*`` name that embedforge does not implement.
    """
    from embedforge.io.registry import known_type_names, resolve_type

    cls = resolve_type(class_ref)
    if cls is not None:
        return cls
    if class_ref.startswith("embedforge."):
        return import_from_string(class_ref)
    raise ImportError(
        f"{class_ref!r} is not a module class embedforge implements (sentence-transformers names are looked up, "
        f"never imported). Known names: {', '.join(known_type_names())}. Register a custom class with "
        "embedforge.io.registry.register_module."
    )


def import_module_class(
    class_ref: str,
    model_name_or_path: str | None = None,
    *,
    trust_remote_code: bool = False,
    revision: str | None = None,
    code_revision: str | None = None,
    token: bool | str | None = None,
    cache_folder: str | None = None,
    local_files_only: bool = False,
) -> type:
    """Resolve a module class reference from a saved model configuration to a class.

    ``sentence_transformers.*`` and ``embedforge.*`` references resolve to embedforge's own classes. Any other
    reference runs code chosen by the configuration, so with ``model_name_or_path`` set it needs
    ``trust_remote_code=True``; it is then loaded from the model's own modeling files (via transformers' dynamic
    modules) when possible, else imported as an installed package.

    Args:
        class_ref: E.g. ``"sentence_transformers.models.Pooling"`` or ``"modeling_custom.MyModule"``.
        model_name_or_path: Hub id or local folder holding repository-local modeling files.
        trust_remote_code: Allow importing code outside embedforge for this model.
        revision: Hub revision of the modeling file.
        code_revision: Hub revision of the code, overriding ``revision``.
        token: Hugging Face Hub token.
        cache_folder: Hugging Face Hub cache folder.
        local_files_only: Use cached files only.

    Returns:
        The class.

    Raises:
        ValueError: If ``class_ref`` is third-party code, ``model_name_or_path`` is set and ``trust_remote_code`` is
            not True.
        ImportError: If the class cannot be found.
    """
    if class_ref.startswith(_OWN_PREFIXES):
        return _own_class(class_ref)
    if model_name_or_path is None:
        return import_from_string(class_ref)
    if not trust_remote_code:
        raise _untrusted_error(class_ref, model_name_or_path)
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    try:
        return get_class_from_dynamic_module(
            class_ref,
            model_name_or_path,
            revision=revision,
            code_revision=code_revision,
            token=token,
            cache_dir=cache_folder,
            local_files_only=local_files_only,
        )
    except (OSError, ValueError):
        # No such modeling file in the model, or a reference that is not "file.Class": an installed package.
        return import_from_string(class_ref)


def _untrusted_error(class_ref: str, model_name_or_path: str) -> ValueError:
    """The error for a third-party class reference loaded without ``trust_remote_code``."""
    location = (
        os.path.abspath(model_name_or_path)
        if os.path.isdir(model_name_or_path)
        else f"https://hf.co/{model_name_or_path}"
    )
    return ValueError(
        f"The model {model_name_or_path} references the module class {class_ref!r}, which is not part of "
        f"embedforge, so importing it runs third-party code. Inspect it at {location}, then pass "
        "`trust_remote_code=True` to allow it."
    )


@contextmanager
def disable_datasets_caching() -> Iterator[None]:
    """Turn off the ``datasets`` library's caching inside the block, restoring it afterwards if it was on.

    Yields:
        Nothing.
    """
    from datasets import disable_caching, enable_caching, is_caching_enabled

    was_enabled = is_caching_enabled()
    try:
        if was_enabled:
            disable_caching()
        yield
    finally:
        if was_enabled:
            enable_caching()


@contextmanager
def disable_logging(highest_level: int = logging.CRITICAL) -> Iterator[None]:
    """Drop every log record at or below ``highest_level`` inside the block (``logging.disable``), then restore.

    Args:
        highest_level: The highest level to drop; the default drops everything.

    Yields:
        Nothing.
    """
    previous = logging.root.manager.disable
    logging.disable(highest_level)
    try:
        yield
    finally:
        logging.disable(previous)


def append_to_last_row(csv_path: str | os.PathLike[str], additional_data: Iterable[Any]) -> bool:
    """Append values to the last row of a CSV file that has a header and at least one data row.

    Args:
        csv_path: The CSV file, rewritten in place.
        additional_data: The values to add at the end of the last row.

    Returns:
        True if the row was extended; False (file untouched) when the file has no data row.
    """
    with open(csv_path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if len(rows) <= 1:
        return False
    rows[-1].extend(additional_data)
    with open(csv_path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return True
