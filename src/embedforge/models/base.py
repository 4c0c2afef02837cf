"""Base classes for every module of a :class:`~embedforge.SentenceTransformer` pipeline.

A model is a sequence of modules. Each module maps a *features* dict to a features dict: the first (the
:class:`InputModule`) turns texts into tensors (``input_ids``, ``attention_mask``…) and usually produces
``token_embeddings``; later modules read and add keys such as ``sentence_embedding``.

Saving and loading are generic: a module declares ``config_keys`` (the constructor arguments written to
``config_file_name``) and its parameters are written as ``model.safetensors``. Modules with other needs
(tokenizers, Hugging Face models) override :meth:`Module.save` and :meth:`Module.load_folder`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import torch
from torch import nn

if TYPE_CHECKING:
    from embedforge.models.pretokenized import PreTokenized

Features = dict[str, Any]
"""A dict of named tensors (and small metadata such as ``prompt_length``) passed between modules."""

WEIGHTS_SAFETENSORS = "model.safetensors"
WEIGHTS_PICKLE = "pytorch_model.bin"


@dataclass(frozen=True)
class LoadContext:
    """Options that the model passes down to every module it loads.

    Attributes:
        trust_remote_code: Allow code shipped with a model (Hugging Face ``auto_map`` or a module file in the
            model folder) to run.
        model_kwargs: Extra keyword arguments for ``AutoModel.from_pretrained``.
        tokenizer_kwargs: Extra keyword arguments for ``AutoTokenizer.from_pretrained``.
        config_kwargs: Extra keyword arguments for ``AutoConfig.from_pretrained``.
        backend: Inference backend; only ``"torch"`` is implemented.
        cache_folder: Hugging Face cache folder.
        revision: Hub revision (branch, tag or commit).
        token: Hub token.
        local_files_only: Never reach the network.
    """

    trust_remote_code: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    tokenizer_kwargs: dict[str, Any] = field(default_factory=dict)
    config_kwargs: dict[str, Any] = field(default_factory=dict)
    backend: str = "torch"
    cache_folder: str | None = None
    revision: str | None = None
    token: bool | str | None = None
    local_files_only: bool = False


class Module(nn.Module, ABC):
    """A saveable step of a SentenceTransformer pipeline.

    Subclasses implement :meth:`forward` and list their constructor arguments in ``config_keys``; the default
    :meth:`save` / :meth:`load` then write and read ``config_file_name`` plus ``model.safetensors``.

    Class attributes:
        config_file_name: Name of the JSON file holding the constructor arguments.
        config_keys: Constructor arguments saved to (and restored from) that file.
        save_in_root: Whether the module is saved in the model's root folder instead of its own subfolder.
        forward_kwargs: Keyword arguments of ``encode`` (e.g. ``task``) that this module's forward accepts.
    """

    config_file_name: ClassVar[str] = "config.json"
    config_keys: ClassVar[tuple[str, ...]] = ()
    save_in_root: ClassVar[bool] = False
    forward_kwargs: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Transform a features dict.

        Args:
            features: Named tensors from the previous module.
            **kwargs: Only the names declared in ``forward_kwargs``.

        Returns:
            The same dict with this module's outputs added or replaced.
        """

    def get_config_dict(self) -> dict[str, Any]:
        """Return the constructor arguments listed in ``config_keys``, as saved to the config file."""
        return {key: getattr(self, key) for key in self.config_keys}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config_dict()})"

    def get_sentence_embedding_dimension(self) -> int | None:
        """Return the size of the ``sentence_embedding`` this module outputs, or None if it does not set it."""
        return None

    # ------------------------------------------------------------------ saving
    def save(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Write the config file and, if the module has parameters or buffers, its weights.

        Args:
            output_path: Folder to write into (created if missing).
            safe_serialization: Write ``model.safetensors`` (True) or a pickled ``pytorch_model.bin`` (False).
        """
        path = Path(output_path)
        path.mkdir(parents=True, exist_ok=True)
        self.save_config(path)
        if any(True for _ in self.state_dict()):
            self.save_weights(path, safe_serialization=safe_serialization)

    def save_config(self, output_path: Path) -> None:
        """Write :meth:`get_config_dict` as JSON to ``output_path / config_file_name``."""
        with open(output_path / self.config_file_name, "w", encoding="utf-8") as handle:
            json.dump(self.get_config_dict(), handle, indent=2)

    def save_weights(self, output_path: Path, *, safe_serialization: bool = True) -> None:
        """Write the module's state dict as safetensors (default) or a pickle."""
        if safe_serialization:
            from safetensors.torch import save_model

            save_model(self, str(output_path / WEIGHTS_SAFETENSORS))
        else:
            torch.save(self.state_dict(), output_path / WEIGHTS_PICKLE)

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        model_name_or_path: str | Path,
        context: LoadContext | None = None,
        *,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        **options: Any,
    ) -> Self:
        """Load the module saved in ``model_name_or_path`` (its ``subfolder``), a folder or a Hub model id.

        Takes both embedforge's call ``load(path, context)`` and sentence-transformers' keyword call
        ``load(model_name_or_path, subfolder=..., token=..., trust_remote_code=..., ...)``. Subclasses override
        :meth:`load_folder`, not this method.

        Args:
            model_name_or_path: A local folder, or a Hugging Face Hub model id (downloaded to the cache).
            context: Loading options shared by all modules of a model; the keyword arguments below override it.
            subfolder: The module's folder inside ``model_name_or_path``, e.g. ``"1_Pooling"``.
            token: Hub token.
            cache_folder: Hugging Face cache folder.
            revision: Hub revision (branch, tag or commit).
            local_files_only: Never reach the network.
            **options: Other :class:`LoadContext` fields, by their sentence-transformers names:
                ``trust_remote_code``, ``model_kwargs``, ``processor_kwargs`` (or ``tokenizer_kwargs``),
                ``config_kwargs``, ``backend``. ``None`` values are ignored.

        Returns:
            The loaded module.

        Raises:
            TypeError: If ``options`` holds a name that no module loading option has.
        """
        context = merge_load_options(
            context,
            {"token": token, "cache_folder": cache_folder, "revision": revision, **options},
            local_files_only=local_files_only,
        )
        return cls.load_folder(module_folder(model_name_or_path, subfolder, context), context)

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> Self:
        """Build the module from the local folder ``path``: its config file, then its weights if it has any.

        Args:
            path: Local folder of this module.
            context: Loading options shared by all modules of the model.

        Returns:
            The loaded module.
        """
        del context  # plain modules need no loading options
        module = cls.from_config(read_json(path / cls.config_file_name))
        load_weights_into(module, path)
        return module

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """Build the module from its saved config; subclasses translate legacy keys here."""
        return cls(**config)


class InputModule(Module):
    """The first module of a pipeline: it turns texts into tensors.

    Subclasses implement :meth:`tokenize`; prompts are prepended by :meth:`preprocess`.
    """

    save_in_root: ClassVar[bool] = True
    tokenizer: Any = None
    """The module's tokenizer (set by subclasses that have one)."""
    _max_seq_length: int | None = None

    @property
    def modalities(self) -> list[str]:
        """The input modalities the module takes: ``["text"]`` (embedforge modules read text only)."""
        return ["text"]

    @abstractmethod
    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> Features:
        """Tokenize a batch of texts.

        Args:
            texts: The texts of one batch.
            **kwargs: Module-specific options (e.g. ``task`` for a Router).

        Returns:
            Tensors of shape ``(batch, seq_len)`` such as ``input_ids`` and ``attention_mask``.
        """

    def preprocess(self, texts: Sequence[str], prompt: str | None = None, **kwargs: Any) -> Features:
        """Prepend ``prompt`` to every text, tokenize, and record ``prompt_length`` when a prompt is used.

        Args:
            texts: The texts of one batch.
            prompt: Optional instruction prepended to every text.
            **kwargs: Passed to :meth:`tokenize`.

        Returns:
            The tokenized features; with a prompt, ``prompt_length`` (tokens of the prompt, special tokens at
            the start included, trailing special tokens excluded).
        """
        if not prompt:
            return self.tokenize(texts, **kwargs)
        features = self.tokenize(prepend_prompt(texts, prompt), **kwargs)
        prompt_length = self.prompt_length(prompt, **kwargs)
        if prompt_length is not None:
            features["prompt_length"] = prompt_length
        return features

    def pretokenize(self, texts: Sequence[str], prompt: str | None = None, **kwargs: Any) -> PreTokenized | None:
        """Tokenize all texts once, unpadded, so ``encode`` can batch them by token length.

        Modules that can only tokenize whole batches return None (the default) and ``encode`` falls back to
        :meth:`preprocess` per batch.

        Args:
            texts: All texts to encode.
            prompt: Optional instruction prepended to every text.
            **kwargs: Module-specific options.
        """
        del texts, prompt, kwargs
        return None

    def prompt_length(self, prompt: str, **kwargs: Any) -> int | None:
        """Number of tokens that ``prompt`` occupies at the start of a tokenized text, or None if unknown."""
        del prompt, kwargs
        return None

    @property
    def max_seq_length(self) -> int | None:
        """Longest input in tokens; longer inputs are truncated. None when the module has no limit.

        By default this is a plain value that a custom module may assign (``self.max_seq_length = 256``, as
        sentence-transformers modules do) and apply in its :meth:`tokenize`; built-in modules override it.
        """
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        self._max_seq_length = value


_ST_OPTION_NAMES = {"processor_kwargs": "tokenizer_kwargs"}
_OPTION_NAMES = ("trust_remote_code", "model_kwargs", "tokenizer_kwargs", "config_kwargs", "backend")


def merge_load_options(
    context: LoadContext | None, options: dict[str, Any], *, local_files_only: bool = False
) -> LoadContext:
    """``context`` (or the defaults) with the options that are set (not ``None``) replacing its fields.

    Raises:
        TypeError: If an option is not a loading option.
    """
    options = {_ST_OPTION_NAMES.get(name, name): value for name, value in options.items() if value is not None}
    known = {field.name for field in fields(LoadContext)}
    if unknown := sorted(set(options) - known):
        accepted = ", ".join([*_OPTION_NAMES, *_ST_OPTION_NAMES, "subfolder", "token", "cache_folder", "revision"])
        raise TypeError(
            f"Module.load got unexpected keyword arguments {unknown}; it accepts {accepted}, local_files_only "
            "and context=LoadContext(...). Remove the others, or override load_folder to use them."
        )
    if local_files_only:
        options["local_files_only"] = True
    return replace(context or LoadContext(), **options)


def module_folder(model_name_or_path: str | Path, subfolder: str, context: LoadContext) -> Path:
    """The local folder of a module: ``model_name_or_path / subfolder``, downloading a Hub model id first.

    A ``Path``, or a string naming an existing path, is local (the folder may be absent: some modules, such as
    Normalize in old models, have none). Any other string is a Hub model id.
    """
    local = Path(model_name_or_path).expanduser()
    if not isinstance(model_name_or_path, Path) and not local.exists():
        from embedforge.io.hub import resolve_model_folder

        local = resolve_model_folder(
            model_name_or_path,
            cache_folder=context.cache_folder,
            revision=context.revision,
            token=context.token,
            local_files_only=context.local_files_only,
        )
    return local / subfolder if subfolder else local


def prepend_prompt(texts: Sequence[str] | Sequence[Sequence[str]], prompt: str) -> list[Any]:
    """``prompt + text`` for every text; for a text pair the prompt goes before the first text only (as ST)."""
    return [prompt + text if isinstance(text, str) else (prompt + text[0], *text[1:]) for text in texts]


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON config file; a missing file reads as an empty config."""
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def load_state_dict(path: Path) -> dict[str, torch.Tensor] | None:
    """Read ``model.safetensors`` or, failing that, ``pytorch_model.bin`` (with ``weights_only=True``)."""
    safetensors_file = path / WEIGHTS_SAFETENSORS
    if safetensors_file.exists():
        from safetensors.torch import load_file

        return load_file(str(safetensors_file))
    pickle_file = path / WEIGHTS_PICKLE
    if pickle_file.exists():
        return torch.load(pickle_file, map_location="cpu", weights_only=True)
    return None


def load_weights_into(module: nn.Module, path: Path) -> None:
    """Load the weights stored in ``path`` into ``module`` (strict: names and shapes must match).

    Raises:
        ValueError: If the module has parameters but the folder holds no weights file.
    """
    state_dict = load_state_dict(path)
    if state_dict is None:
        if any(True for _ in module.state_dict()):
            raise ValueError(
                f"Expected {WEIGHTS_SAFETENSORS} or {WEIGHTS_PICKLE} in {path} for {type(module).__name__}, "
                "found neither. Re-save the model, or restore the missing weights file."
            )
        return
    module.load_state_dict(state_dict, strict=True)
