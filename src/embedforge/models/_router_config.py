"""The Router's on-disk config and its route-resolution rules, kept apart from the module itself.

A Router folder holds ``router_config.json`` and one subfolder per distinct sub-module::

    router_config.json        {"types": {module_id: type name}, "structure": {route: [module_id, ...]},
                               "parameters": {"default_route", "allow_empty_key", "route_mappings"}}
    <route>_<index>_<Class>/  each sub-module, saved by its own ``save``

Folders written by the old ``Asym`` module use ``config.json`` with the same keys (``parameters`` then only has
``allow_empty_key``) and arbitrary module ids; type names there are old dotted paths such as
``sentence_transformers.models.Dense``, resolved through the registry like any other.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

logger = logging.getLogger(__name__)

ROUTER_CONFIG_FILE = "router_config.json"
LEGACY_CONFIG_FILE = "config.json"
TEXT_MODALITY = "text"
"""The modality of plain-text inputs, the only kind embedforge routes."""

Modality = str | tuple[str, ...]
RouteKey = tuple[str | None, Modality | None]
"""A ``route_mappings`` key: ``(task, modality)``, where None matches anything."""


@dataclass(frozen=True)
class RouterConfigFile:
    """Contents of ``router_config.json``.

    Attributes:
        types: Sub-module folder name → type name (as in ``modules.json``).
        structure: Route name → the folder names of its modules, in order.
        parameters: Router constructor arguments; ``route_mappings`` keys are ``str((task, modality))``.
    """

    types: dict[str, str]
    structure: dict[str, list[str]]
    parameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> RouterConfigFile:
        """Read ``router_config.json`` in ``path``, or the legacy ``Asym`` ``config.json``.

        Raises:
            FileNotFoundError: If neither file exists.
            ValueError: If the file lacks ``types`` or ``structure``, or a module folder is not a plain relative
                path inside ``path``.
        """
        for name in (ROUTER_CONFIG_FILE, LEGACY_CONFIG_FILE):
            if (path / name).is_file():
                with open(path / name, encoding="utf-8") as handle:
                    data = json.load(handle)
                break
        else:
            raise FileNotFoundError(
                f"Router expects {ROUTER_CONFIG_FILE} (or a legacy Asym {LEGACY_CONFIG_FILE}) in {path}, found "
                "neither. Is this folder a Router / Asym module?"
            )
        missing = [key for key in ("types", "structure") if key not in data]
        if missing:
            raise ValueError(
                f"Router config in {path} lacks {missing}; expected 'types', 'structure' and 'parameters' as "
                "written by sentence-transformers' Router. Re-save the model."
            )
        for module_id in data["types"]:
            check_module_folder(module_id)
        return cls(
            dict(data["types"]), {k: list(v) for k, v in data["structure"].items()}, dict(data.get("parameters") or {})
        )

    def write(self, path: Path) -> None:
        """Write ``router_config.json`` into ``path`` as sentence-transformers does (indent 4)."""
        with open(path / ROUTER_CONFIG_FILE, "w", encoding="utf-8") as handle:
            json.dump(
                {"types": self.types, "structure": self.structure, "parameters": self.parameters}, handle, indent=4
            )


def check_module_folder(module_id: str) -> None:
    """Reject a sub-module folder that is absolute or climbs out of the Router folder (POSIX or Windows syntax).

    Raises:
        ValueError: If ``module_id`` is not a plain relative path.
    """
    windows_path = PureWindowsPath(module_id if isinstance(module_id, str) else "..")
    if windows_path.anchor or ".." in windows_path.parts or "\0" in str(module_id):
        raise ValueError(
            f"Router config names the sub-module folder {module_id!r}; expected a relative path inside the "
            "Router folder, without '..'. The config file may be corrupt or malicious."
        )


def normalize_route_mappings(route_mappings: Mapping[RouteKey, str] | None) -> dict[RouteKey, str]:
    """Copy ``route_mappings`` with tuple modalities sorted, so ``("text", "image")`` == ``("image", "text")``."""
    return {
        (task, tuple(sorted(modality)) if isinstance(modality, tuple) else modality): route
        for (task, modality), route in (route_mappings or {}).items()
    }


def encode_route_mappings(route_mappings: Mapping[RouteKey, str]) -> dict[str, str]:
    """JSON form of ``route_mappings``: each key written as ``str((task, modality))``."""
    return {str(key): route for key, route in route_mappings.items()}


def decode_route_mappings(encoded: Mapping[str, str] | None) -> dict[RouteKey, str]:
    """Parse keys written by :func:`encode_route_mappings`; a key that is not a 2-tuple literal is skipped."""
    decoded: dict[RouteKey, str] = {}
    for text, route in (encoded or {}).items():
        try:
            key = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            key = None
        if not (isinstance(key, tuple) and len(key) == 2):
            logger.warning(
                "Router: could not parse route_mappings key %r (expected '(task, modality)'); skipped.", text
            )
            continue
        decoded[key] = route
    return decoded


def resolve_route_name(
    route_mappings: Mapping[RouteKey, str],
    routes: Iterable[str],
    task: str | None,
    modality: Modality | None,
) -> str | None:
    """Find the route for ``(task, modality)`` by sentence-transformers' priority order.

    1. ``route_mappings[(task, modality)]``, then ``(task, None)``, ``(None, modality)``, ``(None, None)``;
    2. a route named ``task``, then a route named ``modality``.

    Args:
        route_mappings: Normalized mappings (see :func:`normalize_route_mappings`).
        routes: The route names.
        task: Requested task, e.g. ``"query"``; None when not given.
        modality: Modality of the inputs, e.g. ``"text"``; None when unknown.

    Returns:
        The route name, or None if neither task nor modality selects one (the caller falls back to the default).

    Raises:
        ValueError: If a task was given but nothing matches it.
    """
    if isinstance(modality, tuple):
        modality = tuple(sorted(modality))
    for key in ((task, modality), (task, None), (None, modality), (None, None)):
        if key in route_mappings:
            return route_mappings[key]
    route_names = list(routes)
    for candidate in (task, modality):
        if candidate and candidate in route_names:
            return candidate  # type: ignore[return-value]  # a tuple modality never names a route
    if task is not None:
        raise ValueError(
            f"Router has no route for task={task!r}. Available: {describe_routes(route_names, route_mappings)}. "
            "Pass one of those as task= (e.g. encode(..., task='query') or encode_query), or add the task to the "
            "Router's sub_modules or route_mappings."
        )
    return None


def describe_routes(routes: Iterable[str], route_mappings: Mapping[RouteKey, str]) -> str:
    """Human-readable list of what can be asked for, e.g. ``task='query', task='document'``."""
    parts = [f"task={name!r}" for name in routes]
    for task, modality in route_mappings:
        shown = "+".join(modality) if isinstance(modality, tuple) else modality
        if modality is None:
            parts.append(f"task={task!r}")
        elif task is None:
            parts.append(f"modality={shown!r}")
        else:
            parts.append(f"(task={task!r}, modality={shown!r})")
    return ", ".join(parts) if parts else "none"
