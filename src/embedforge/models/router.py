"""Router: sends each batch through one of several module pipelines, chosen by task (e.g. query vs document)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from embedforge.io.load import load_module
from embedforge.io.registry import type_name_of
from embedforge.models._router_config import (
    TEXT_MODALITY,
    Modality,
    RouteKey,
    RouterConfigFile,
    decode_route_mappings,
    describe_routes,
    encode_route_mappings,
    normalize_route_mappings,
    resolve_route_name,
)
from embedforge.models.base import Features, InputModule, LoadContext, Module

logger = logging.getLogger(__name__)

TextBatch = Sequence[str] | Sequence[Mapping[str, str]]
"""Texts, or (legacy ``Asym`` input) one ``{task: text}`` dict per text, all with the same task."""


class Router(InputModule):
    """Routes inputs to one of several module lists, so queries and documents can be encoded differently.

    The route is chosen from ``task`` (``encode(..., task="query")``, ``encode_query``) in this order:
    ``route_mappings[(task, "text")]``, ``[(task, None)]``, ``[(None, "text")]``, ``[(None, None)]``, a route
    named ``task``, a route named ``"text"``; with no task, ``default_route``. A task that matches nothing is an
    error. The first module of each route tokenizes (it must be an :class:`InputModule` when the Router is the
    model's first module); :meth:`preprocess` records ``task`` (and ``modality``) in the features so that
    :meth:`forward` runs the same route. A Router may also sit later in a pipeline (e.g. one Dense head per task).

    Saved as ``router_config.json`` plus one folder per distinct module (``<route>_<index>_<Class>``), as
    sentence-transformers 6.2 writes it; legacy ``Asym`` folders (``config.json``) load as well. Module weights
    are reachable as ``sub_modules.<route>.<index>.*`` in the state dict.

    Args:
        sub_modules: Route name → the modules applied in order on that route. A module object may appear in
            several routes (it is then shared and saved once).
        default_route: Route used when no task is given. None: the first route if ``allow_empty_key``, else
            a task is required.
        allow_empty_key: Whether to fall back to the first route when ``default_route`` is None.
        route_mappings: ``(task, modality) → route`` rules; None in a key matches anything. embedforge only
            produces the ``"text"`` modality.

    Raises:
        ValueError: If ``sub_modules`` is empty, a route has no modules, or ``default_route`` /
            a ``route_mappings`` target is not a route.

    Example:
        >>> from tokenizers import Tokenizer
        >>> from tokenizers.models import WordLevel
        >>> from embedforge.models import StaticEmbedding
        >>> tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]"))
        >>> router = Router.for_query_document(
        ...     query_modules=[StaticEmbedding(tokenizer, embedding_dim=4)],
        ...     document_modules=[StaticEmbedding(tokenizer, embedding_dim=4)],
        ... )
        >>> features = router.preprocess(["hi"], task="query")
        >>> router(features)["sentence_embedding"].shape
        torch.Size([1, 4])
    """

    config_file_name: ClassVar[str] = "router_config.json"
    config_keys: ClassVar[tuple[str, ...]] = ("default_route", "allow_empty_key", "route_mappings")
    forward_kwargs: ClassVar[frozenset[str]] = frozenset({"task"})

    def __init__(
        self,
        sub_modules: Mapping[str, Sequence[Module]],
        default_route: str | None = None,
        allow_empty_key: bool = True,
        route_mappings: Mapping[RouteKey, str] | None = None,
    ) -> None:
        super().__init__()
        _check_routes(sub_modules, default_route, route_mappings)
        self.sub_modules = nn.ModuleDict({name: nn.Sequential(*modules) for name, modules in sub_modules.items()})
        if allow_empty_key and default_route is None:
            default_route = next(iter(sub_modules))
        self.default_route: str | None = default_route
        self.allow_empty_key = allow_empty_key
        self.route_mappings: dict[RouteKey, str] = normalize_route_mappings(route_mappings)

    @classmethod
    def for_query_document(
        cls,
        query_modules: Sequence[Module],
        document_modules: Sequence[Module],
        default_route: str | None = "document",
        allow_empty_key: bool = True,
    ) -> Router:
        """A Router with a ``"query"`` and a ``"document"`` route, for ``encode_query`` / ``encode_document``.

        Args:
            query_modules: Modules of the ``"query"`` route.
            document_modules: Modules of the ``"document"`` route.
            default_route: Route used without a task; ``"document"`` as in sentence-transformers 6.2.
            allow_empty_key: With ``default_route=None``, fall back to the first route (``"query"``).

        Returns:
            The Router.
        """
        return cls(
            {"query": list(query_modules), "document": list(document_modules)},
            default_route=default_route,
            allow_empty_key=allow_empty_key,
        )

    # ------------------------------------------------------------------ routing
    def resolve_route(self, task: str | None = None, modality: Modality | None = TEXT_MODALITY) -> str:
        """The route that ``task`` selects, falling back to ``default_route``.

        Args:
            task: Requested task, e.g. ``"query"``.
            modality: Modality of the inputs (``"text"`` for texts).

        Returns:
            The route name.

        Raises:
            ValueError: If a task was given and matches no route, or no task was given and there is no
                default route.
        """
        route = resolve_route_name(self.route_mappings, self.sub_modules.keys(), task, modality)
        if route is None:
            route = self.default_route
        if route is None:
            hint = (
                "In training, set router_mapping in the training arguments to give each column a route, "
                if self.training
                else "Pass task= to encode (e.g. encode_query / encode_document), "
            )
            raise ValueError(
                f"Router could not choose a route for task={task!r}: no task was given and it has no "
                f"default_route. Available: {describe_routes(self.sub_modules.keys(), self.route_mappings)}. "
                f"{hint}or build the Router with default_route=... (or allow_empty_key=True)."
            )
        return route

    def input_module(self, route: str) -> InputModule:
        """The first module of ``route``, which tokenizes for it.

        Raises:
            TypeError: If that module is not an :class:`InputModule`.
        """
        module = self.sub_modules[route][0]
        if not isinstance(module, InputModule):
            raise TypeError(
                f"Router route {route!r} starts with {type(module).__name__}, which cannot tokenize texts. When the "
                "Router is the model's first module, every route must start with an input module such as "
                "Transformer or StaticEmbedding."
            )
        return module

    # ------------------------------------------------------------------- inputs
    def preprocess(
        self, texts: TextBatch, prompt: str | None = None, task: str | None = None, **kwargs: Any
    ) -> Features:
        """Choose the route, let its input module tokenize (prompt included), and record the task.

        Args:
            texts: The ``batch`` texts (or legacy ``{task: text}`` dicts, all with the same task).
            prompt: Optional instruction prepended to every text by the route's input module.
            task: Task that selects the route; None uses the default route.
            **kwargs: Passed to the input module.

        Returns:
            The input module's features (e.g. ``input_ids`` ``(batch, seq_len)``), plus ``task`` (as given,
            possibly None) and ``modality`` (``"text"``) for :meth:`forward`.
        """
        texts, task = _unwrap_task_dicts(texts, task)
        route = self.resolve_route(task, TEXT_MODALITY)
        features = self.input_module(route).preprocess(texts, prompt=prompt, task=task, **kwargs)
        features["task"] = task
        features["modality"] = TEXT_MODALITY
        return features

    def tokenize(self, texts: TextBatch, task: str | None = None, **kwargs: Any) -> Features:
        """Tokenize with the input module of the route ``task`` selects (see :meth:`preprocess`, without prompt).

        Args:
            texts: The ``batch`` texts.
            task: Task that selects the route; None uses the default route.
            **kwargs: Passed to the input module.

        Returns:
            The input module's features plus ``task`` and ``modality``.
        """
        return self.preprocess(texts, prompt=None, task=task, **kwargs)

    def prompt_length(self, prompt: str, task: str | None = None, **kwargs: Any) -> int | None:
        """Tokens that ``prompt`` occupies, as counted by the input module of the route ``task`` selects."""
        return self.input_module(self.resolve_route(task, TEXT_MODALITY)).prompt_length(prompt, task=task, **kwargs)

    # ------------------------------------------------------------------ forward
    def forward(self, features: Features, task: str | None = None, **kwargs: Any) -> Features:
        """Run the modules of the chosen route in order.

        Args:
            features: Features from :meth:`preprocess` (or from earlier modules when the Router is not first).
            task: Task that selects the route; None reads ``features["task"]``, then uses the default route.
            **kwargs: Passed to each sub-module that declares them in its ``forward_kwargs`` (as is ``task``).

        Returns:
            The features after the route's last module, e.g. ``sentence_embedding`` ``(batch, dim)``.
        """
        if task is None:
            task = features.get("task")
        route = self.resolve_route(task, features.get("modality"))
        module_kwargs = {**kwargs, "task": task}
        for module in self.sub_modules[route]:
            accepted = {key: value for key, value in module_kwargs.items() if key in module.forward_kwargs}
            features = module(features, **accepted)
        return features

    # --------------------------------------------------------------- properties
    def get_sentence_embedding_dimension(self) -> int | None:
        """Output size of the routes: per route, that of the last module that reports one.

        Returns:
            The size, or None if no module reports one. If routes differ, the first route's size (with a
            warning).
        """
        sizes = self._route_dimensions()
        if not sizes:
            return None
        if len(set(sizes)) > 1:
            logger.warning("Router routes output different embedding sizes %s; reporting the first.", sizes)
        return sizes[0]

    def _route_dimensions(self) -> list[int]:
        """Per route (in order), the output size of its last module that reports one; routes without are left out."""
        sizes = []
        for modules in self.sub_modules.values():
            reported = (module.get_sentence_embedding_dimension() for module in reversed(modules))
            size = next((dim for dim in reported if dim is not None), None)
            if size is not None:
                sizes.append(size)
        return sizes

    get_embedding_dimension = get_sentence_embedding_dimension

    @property
    def max_seq_length(self) -> int | None:
        """Longest input of the routes' input modules (the largest, with a warning, if they differ).

        None if no route's first module is an input module with a limit. Setting it sets every input
        module that has a limit; modules without one (e.g. StaticEmbedding) are left as they are.
        """
        limits = {limit for module in self._input_modules() if (limit := module.max_seq_length)}
        if not limits:
            return None
        if len(limits) > 1:
            logger.warning("Router routes have different max_seq_length values %s; reporting the largest.", limits)
        return max(limits)

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        limited = [module for module in self._input_modules() if module.max_seq_length is not None]
        if not limited:
            logger.warning("Router: no route's input module has a max_seq_length to set; %s ignored.", value)
        for module in limited:
            module.max_seq_length = value

    @property
    def tokenizer(self) -> Any:
        """The tokenizer of the first route whose input module has one (routes may differ), or None."""
        return next((module.tokenizer for module in self._input_modules() if module.tokenizer is not None), None)

    @property
    def modalities(self) -> list[str]:
        """The modalities that any route's input module takes, sorted."""
        return sorted({modality for module in self._input_modules() for modality in module.modalities})

    def _input_modules(self) -> list[InputModule]:
        """The distinct input modules that start the routes."""
        firsts = {id(modules[0]): modules[0] for modules in self.sub_modules.values()}
        return [module for module in firsts.values() if isinstance(module, InputModule)]

    def __repr__(self) -> str:
        """The full sub-module tree (``nn.Module``'s repr), not only the config."""
        return nn.Module.__repr__(self)

    def extra_repr(self) -> str:
        """Show the default route and any route mappings next to the sub-modules."""
        parts = [f"default_route={self.default_route!r}"] if self.default_route is not None else []
        if self.route_mappings:
            parts.append(f"route_mappings={self.route_mappings}")
        return ", ".join(parts)

    # ------------------------------------------------------------- save / load
    def save(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Write ``router_config.json`` and one folder per distinct sub-module, as sentence-transformers does.

        Args:
            output_path: Folder to write into (created if missing).
            safe_serialization: Passed to every sub-module's ``save``.

        Raises:
            embedforge.io.UnknownModuleTypeError: If a sub-module's type has no name (nothing is written then).
        """
        path = Path(output_path)
        folders: dict[int, str] = {}
        modules: dict[str, Module] = {}
        types: dict[str, str] = {}
        structure: dict[str, list[str]] = {}
        for route, route_modules in self.sub_modules.items():
            structure[route] = []
            for index, module in enumerate(route_modules):
                if id(module) not in folders:
                    folder = f"{route}_{index}_{type(module).__name__}"
                    folders[id(module)], modules[folder], types[folder] = folder, module, type_name_of(module)
                structure[route].append(folders[id(module)])
        path.mkdir(parents=True, exist_ok=True)
        for folder, module in modules.items():
            module.save(path / folder, safe_serialization=safe_serialization)
        parameters = self.get_config_dict()
        parameters["route_mappings"] = encode_route_mappings(self.route_mappings)
        RouterConfigFile(types, structure, parameters).write(path)

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> Router:
        """Load a Router (or legacy Asym) folder; sub-module types are looked up in the embedforge registry.

        Args:
            path: The Router's folder (the model folder when the Router is the first module).
            context: Loading options, passed to every sub-module.

        Returns:
            The Router with its sub-modules loaded.
        """
        config = RouterConfigFile.read(path)
        loaded = {
            folder: load_module(type_name, path / folder, context, path) for folder, type_name in config.types.items()
        }
        unknown = sorted({folder for folders in config.structure.values() for folder in folders} - set(loaded))
        if unknown:
            raise ValueError(
                f"Router config in {path} uses modules {unknown} in 'structure' but not in 'types'. Re-save the model."
            )
        parameters = dict(config.parameters)
        parameters["route_mappings"] = decode_route_mappings(parameters.get("route_mappings"))
        if ignored := sorted(set(parameters) - set(cls.config_keys)):
            logger.warning("Router config in %s has unknown parameters %s; they are ignored.", path, ignored)
        sub_modules = {route: [loaded[folder] for folder in folders] for route, folders in config.structure.items()}
        return cls(sub_modules, **{key: value for key, value in parameters.items() if key in cls.config_keys})


Asym = Router
"""The pre-5.0 name of :class:`Router`, kept for old code and ``modules.json`` files."""


def _check_routes(
    sub_modules: Mapping[str, Sequence[Module]],
    default_route: str | None,
    route_mappings: Mapping[RouteKey, str] | None,
) -> None:
    """Validate the Router's constructor arguments, naming the offending route."""
    if not sub_modules:
        raise ValueError("Router needs at least one route in sub_modules, e.g. {'query': [...], 'document': [...]}.")
    routes = list(sub_modules)
    if empty := [route for route, modules in sub_modules.items() if not modules]:
        raise ValueError(f"Router routes {empty} have no modules; give each route at least one module.")
    if default_route is not None and default_route not in sub_modules:
        raise ValueError(f"Router default_route {default_route!r} is not a route; routes are {routes}.")
    for key, target in (route_mappings or {}).items():
        if target not in sub_modules:
            raise ValueError(
                f"Router route_mappings sends {key} to {target!r}, which is not a route; routes are {routes}."
            )


def _unwrap_task_dicts(texts: TextBatch, task: str | None) -> tuple[Sequence[str], str | None]:
    """Turn legacy ``[{task: text}, ...]`` inputs into texts and their task (when no task was passed).

    Raises:
        ValueError: If the dicts name different tasks.
    """
    if task is not None or not texts or not isinstance(texts[0], Mapping):
        return texts, task  # type: ignore[return-value]
    keys = {key for text in texts for key in text}  # type: ignore[union-attr]
    if len(keys) != 1:
        raise ValueError(
            f"Router got {{task: text}} inputs with different tasks {sorted(keys)}; pass one task per batch, or "
            "pass plain texts with task=..."
        )
    (only_task,) = keys
    return [text[only_task] for text in texts], only_task  # type: ignore[index]
