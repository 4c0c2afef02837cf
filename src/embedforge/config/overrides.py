"""Reading recipe YAML: YAML 1.2 scalars, ``key.sub=value`` overrides, ``${VAR}`` / ``${VAR:-default}`` expansion."""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

__all__ = ["RecipeLoader", "apply_override", "expand_variables"]


class RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 scalars.

    Only true/false are booleans (``eval_strategy: no`` stays the string ``"no"``), and ``2e-5`` is a float.
    """


RecipeLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def apply_override(data: dict[str, Any], override: str, problems: list[str]) -> None:
    """Set ``data[a][b]... = value`` for ``"a.b...=value"``; a problem is recorded when it cannot be applied."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        problems.append(f"override {override!r} is not key=value (e.g. training.max_steps=10)")
        return
    try:
        value = yaml.load(raw, Loader=RecipeLoader) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    parts = key.strip().split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        child = _child(node, part)
        if child is None:
            if isinstance(node, dict):
                node[part] = child = {}
            else:
                where = ".".join(parts[: depth + 1])
                problems.append(f"override {override!r}: {where!r} is not a list index or mapping key")
                return
        node = child
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        problems.append(f"override {override!r}: cannot set {last!r} inside a {type(node).__name__}")


def _child(node: Any, part: str) -> Any:
    if isinstance(node, list):
        return node[int(part)] if part.isdigit() and int(part) < len(node) else None
    if isinstance(node, dict):
        value = node.get(part)
        return value if isinstance(value, (dict, list)) else None
    return None


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_variables(value: Any, problems: list[str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``value`` by the environment's value."""
    if isinstance(value, dict):
        return {key: expand_variables(item, problems) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_variables(item, problems) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        problems.append(
            f"environment variable {name!r} is not set (used in {value!r}); set it or write ${{{name}:-default}}"
        )
        return match.group(0)

    return _VARIABLE.sub(replace, value)
