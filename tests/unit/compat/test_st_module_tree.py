"""embedforge mirrors sentence-transformers 6.2's module tree, checked against the installed sentence-transformers.

Every module ST 6.2 ships (``pkgutil.walk_packages``), and every deprecated path of its own table, must import as
``embedforge.<same path>`` and hold ST's public names, each the same object wherever ST has it under several
paths (ST's ``CoSENTLoss`` is one class under five paths; embedforge's must be one class too), and for classes one
with the same ``__name__``. Exceptions are the written allow-list :data:`ALLOWED_MISSING` (each with its reason).

Rule for "public names" of an ST module: its ``__all__`` when it defines one; otherwise the classes and functions
it defines itself (``obj.__module__`` is that module; names it merely imports are not its API). Names starting with
an underscore are private even when ``__all__`` lists them; constants (no ``__module__``) are not counted.

Families embedforge does not implement (``sparse_encoder``, ``multi_vector_encoder``) and the other allow-listed
modules must fail with a clear ``ImportError``, never a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import types
import warnings
from typing import Any

import pytest
from st_module_tree_allow_list import ALLOWED_MISSING, NOT_IMPLEMENTED_FAMILIES, ST, AllowedMissing

from embedforge.compat.deprecated_paths import DEPRECATED_PATHS
from embedforge.compat.unavailable_paths import unavailable_reason


def _allowed_module(path: str) -> AllowedMissing | None:
    for entry in ALLOWED_MISSING:
        if not entry.names and (path == entry.path or path.startswith(f"{entry.path}.")):
            return entry
    return None


def _allowed_name(path: str, name: str) -> bool:
    return _allowed_module(path) is not None or any(
        entry.path == path and name in entry.names for entry in ALLOWED_MISSING
    )


def _to_embedforge(path: str) -> str:
    return "embedforge" + path.removeprefix(ST)


def _public_names(module: types.ModuleType) -> dict[str, Any]:
    """The rule of the module docstring: ``__all__`` if defined, else classes/functions defined here; no ``_``."""
    if "__all__" in vars(module):
        names = [name for name in module.__all__ if not name.startswith("_")]
    else:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and not isinstance(value, types.ModuleType)
            and getattr(value, "__module__", None) == module.__name__
        ]
    return {name: getattr(module, name) for name in names}


def _is_unimplemented_family(path: str) -> bool:
    return any(path.startswith(f"{ST}.{family}") for family in NOT_IMPLEMENTED_FAMILIES)


@pytest.fixture(scope="module")
def st_tree() -> dict[str, dict[str, Any]]:
    """Every ST module path (the package itself included) -> its public names and objects."""
    import sentence_transformers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = [ST] + [info.name for info in pkgutil.walk_packages(sentence_transformers.__path__, f"{ST}.")]
        return {path: _public_names(importlib.import_module(path)) for path in paths}


def _st_names(st_tree: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """The public names of an ST path, walked or deprecated (ST's deprecated paths alias its new modules)."""
    if path in st_tree:
        return st_tree[path]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _public_names(importlib.import_module(path))


def _import_embedforge(path: str) -> types.ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(_to_embedforge(path))


def test_the_walk_sees_all_of_st_6_2(st_tree: dict[str, dict[str, Any]]) -> None:
    assert len(st_tree) == 212  # 211 submodules + the package
    assert sum(_is_unimplemented_family(path) for path in st_tree) == 61


def test_every_st_module_path_imports_or_fails_clearly(st_tree: dict[str, dict[str, Any]]) -> None:
    failures = []
    for path in st_tree:
        expect_error = _is_unimplemented_family(path) or _allowed_module(path) is not None
        try:
            _import_embedforge(path)
        except ImportError as error:
            if not expect_error or isinstance(error, ModuleNotFoundError):
                failures.append(f"{_to_embedforge(path)}: {type(error).__name__}: {error}")
            continue
        if expect_error:
            failures.append(f"{_to_embedforge(path)} imports although the allow-list says it is missing")
    assert not failures, "\n".join(failures)


def _resolve_all(st_tree: dict[str, dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Resolve every (path, name) in embedforge: {id(ST object): {"path:name": embedforge object}}, failures."""
    groups: dict[int, dict[str, Any]] = {}
    failures = []
    for path, names in st_tree.items():
        if _is_unimplemented_family(path) or _allowed_module(path) is not None:
            continue
        try:
            module = _import_embedforge(path)
        except ImportError as error:
            failures.append(f"{_to_embedforge(path)}: the module fails: {error}")
            continue
        for name, st_object in names.items():
            if _allowed_name(path, name):
                continue
            try:
                ours = getattr(module, name)
            except (AttributeError, ImportError) as error:
                failures.append(f"{_to_embedforge(path)}:{name} missing ({type(error).__name__}: {error})")
                continue
            groups.setdefault(id(st_object), {})[f"{_to_embedforge(path)}:{name}"] = ours
    return groups, failures


def test_every_public_name_resolves_to_one_embedforge_object(st_tree: dict[str, dict[str, Any]]) -> None:
    groups, failures = _resolve_all(st_tree)
    st_objects = {id(obj): obj for names in st_tree.values() for obj in names.values()}
    for st_id, where in groups.items():
        distinct = {id(value): key for key, value in where.items()}
        if len(distinct) > 1:
            failures.append(f"one ST object, several embedforge objects: {sorted(distinct.values())}")
        st_object, ours = st_objects[st_id], next(iter(where.values()))
        # A class keeps ST's name, or another name ST gives the same class (SentenceEvaluator = BaseEvaluator).
        st_names = (
            {st_object.__name__} | {key.rpartition(":")[2] for key in where} if isinstance(st_object, type) else ()
        )
        if st_names and getattr(ours, "__name__", None) not in st_names:
            failures.append(f"{sorted(where)} resolve to {ours!r}, not a class named one of {sorted(st_names)}")
        if isinstance(ours, (type, types.FunctionType)) and not ours.__module__.startswith("embedforge"):
            failures.append(f"{sorted(where)} resolve to {ours!r}, which embedforge does not define")
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)


def test_allow_list_entries_are_still_missing(st_tree: dict[str, dict[str, Any]]) -> None:
    """A stale entry (embedforge now has the name, or ST has no such name) must be removed from the list."""
    stale = []
    for entry in ALLOWED_MISSING:
        assert entry.reason
        for name in entry.names:
            if name not in _st_names(st_tree, entry.path):
                stale.append(f"{entry.path}:{name} is not an ST public name")
                continue
            try:
                getattr(_import_embedforge(entry.path), name)
            except (AttributeError, ImportError):
                continue
            stale.append(f"{_to_embedforge(entry.path)}:{name} exists now")
    assert not stale, "\n".join(stale)


def test_top_level_exports_st_all(st_tree: dict[str, dict[str, Any]]) -> None:
    import embedforge

    expected = {name for name in st_tree[ST] if not _allowed_name(ST, name)}
    assert expected <= set(embedforge.__all__), sorted(expected - set(embedforge.__all__))
    for name in expected:
        assert getattr(embedforge, name) is not None


def test_unavailable_top_level_names_say_why() -> None:
    import embedforge

    with pytest.raises(AttributeError, match=r"SparseEncoder family .* not implemented"):
        embedforge.SparseEncoder  # noqa: B018
    assert embedforge.export_optimized_onnx_model.__module__ == "embedforge.backend.optimize"


def test_own_homes_of_deprecated_paths_hold_the_new_paths_objects(st_tree: dict[str, dict[str, Any]]) -> None:
    """``embedforge.losses`` etc. are embedforge's own modules (no warning) with the objects of ST's new path."""
    from sentence_transformers.util.deprecated_import import DEPRECATED_MODULE_PATHS

    own = {old: new for old, new in DEPRECATED_MODULE_PATHS.items() if _to_embedforge(old) not in DEPRECATED_PATHS}
    own = {old: new for old, new in own.items() if not _is_unimplemented_family(old)}
    assert sorted(_to_embedforge(old) for old in own) == sorted(OWN_HOMES)
    failures = []
    for old, new in own.items():
        module = importlib.import_module(_to_embedforge(old))
        assert module.__name__ == _to_embedforge(old), "an own home must be a real module, not an alias"
        new_module = _import_embedforge(new)
        for name in st_tree[new]:
            if _allowed_name(new, name) or _allowed_name(old, name):
                continue
            if getattr(module, name, None) is not getattr(new_module, name, object()):
                failures.append(f"{_to_embedforge(old)}:{name} is not {_to_embedforge(new)}:{name}")
    assert not failures, "\n".join(failures)


OWN_HOMES = (
    "embedforge.datasets",
    "embedforge.evaluation",
    "embedforge.losses",
    "embedforge.model_card",
    "embedforge.models",
    "embedforge.models.tokenizer",
    "embedforge.quantization",
    "embedforge.readers",
    "embedforge.similarity_functions",
    "embedforge.training_args",
)
"""ST's deprecated paths that are embedforge's documented modules: they import without a warning."""

_IMPORT_EACH_FRESH = """
import importlib, json, sys, warnings
results = {}
for old, new in json.loads(sys.argv[1]):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            module = importlib.import_module(old)
        except ImportError as error:
            results[old] = {"error": type(error).__name__, "message": str(error)}
            continue
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning) and old in str(w.message)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            same = importlib.import_module(new) is module
        except ImportError as error:
            same = repr(error)
    results[old] = {"warnings": messages, "same": same, "real": module.__name__ == old}
print(json.dumps(results))
"""


def test_every_deprecated_st_path_warns_and_gives_the_new_module() -> None:
    """All 133 paths of ST's table, each imported first in a fresh interpreter (a module warns once)."""
    from sentence_transformers.util.deprecated_import import DEPRECATED_MODULE_PATHS

    assert len(DEPRECATED_MODULE_PATHS) == 133
    pairs = [(_to_embedforge(old), _to_embedforge(new)) for old, new in DEPRECATED_MODULE_PATHS.items()]
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_FRESH, json.dumps(pairs)], capture_output=True, text=True, check=True
    )
    results = json.loads(completed.stdout)
    failures = []
    for old, new in pairs:
        result = results[old]
        if ".sparse_encoder" in old:
            if result.get("error") != "ImportError" or "SparseEncoder family" not in result["message"]:
                failures.append(f"{old}: expected the clear SparseEncoder ImportError, got {result}")
        elif unavailable_reason(new) is not None:
            if result.get("error") != "ImportError" or result.get("warnings"):
                failures.append(f"{old}: {new} is not implemented, expected a clear ImportError, got {result}")
        elif old in OWN_HOMES:
            if not result.get("real") or result["warnings"]:
                failures.append(f"{old}: expected embedforge's own module without a warning, got {result}")
        elif "error" in result or result["same"] is not True or not any(new in m for m in result["warnings"]):
            failures.append(f"{old}: expected a DeprecationWarning naming {new} and the same module, got {result}")
    assert not failures, "\n".join(failures)
