"""Base classes for every module of a :class:`~embedforge.SentenceTransformer` pipeline.

A model is a sequence of modules. Each module maps a *features* dict to a features dict: the first (the
:class:`InputModule`) turns texts into tensors (``input_ids``, ``attention_mask``…) and usually produces
``token_embeddings``; later modules read and add keys such as ``sentence_embedding``.

Saving and loading are generic: a module declares ``config_keys`` (the constructor arguments written to
``config_file_name``) and its parameters are written as ``model.safetensors``. Modules with other needs
(tokenizers, Hugging Face models) override :meth:`Module.save` and :meth:`Module.load_folder`.

Custom modules written for sentence-transformers override ``save``/``load`` themselves and call its helpers,
which exist here with the same signatures: ``load_config``, ``load_file_path``, ``load_dir_path``,
``load_torch_weights``, ``save_config``, ``save_torch_weights``, ``InputModule.save_tokenizer``, and the
``on_model_ready`` hook (see :mod:`embedforge.models.module_io`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from torch import nn

from embedforge.models import module_io
from embedforge.models.module_io import (
    WEIGHTS_PICKLE,
    WEIGHTS_SAFETENSORS,
    load_state_dict,
    load_weights_into,
    merge_load_options,
    module_folder,
    read_json,
)
from embedforge.util.file_io import load_dir_path, load_file_path

if TYPE_CHECKING:
    import torch

    from embedforge.models.pretokenized import PreTokenized

__all__ = [
    "WEIGHTS_PICKLE",
    "WEIGHTS_SAFETENSORS",
    "Features",
    "InputModule",
    "LoadContext",
    "Module",
    "load_state_dict",
    "load_weights_into",
    "merge_load_options",
    "module_folder",
    "read_json",
]

Features = dict[str, Any]
"""A dict of named tensors (and small metadata such as ``prompt_length``) passed between modules."""


@dataclass(frozen=True)
class LoadContext:
    """Options that the model passes down to every module it loads.

    Attributes:
        trust_remote_code: Allow code shipped with a model (Hugging Face ``auto_map`` or a module file in the
            model folder) to run.
        model_kwargs: Extra keyword arguments for ``AutoModel.from_pretrained``.
        tokenizer_kwargs: Extra keyword arguments for ``AutoTokenizer.from_pretrained``.
        config_kwargs: Extra keyword arguments for ``AutoConfig.from_pretrained``.
        backend: Inference backend: ``"torch"``, ``"onnx"`` or ``"openvino"``.
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
        config_key_renames: Old config key → new key, applied when a config is read (for old saved models).
        save_in_root: Whether the module is saved in the model's root folder instead of its own subfolder.
        forward_kwargs: Keyword arguments of ``encode`` (e.g. ``task``) that this module's forward accepts.
    """

    config_file_name: ClassVar[str] = "config.json"
    config_keys: ClassVar[tuple[str, ...]] = ()
    config_key_renames: ClassVar[dict[str, str]] = {}
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

    def save_config(self, output_path: str | Path, filename: str | None = None) -> None:
        """Write :meth:`get_config_dict` as JSON to ``output_path / (filename or config_file_name)``."""
        Path(output_path).mkdir(parents=True, exist_ok=True)
        with open(Path(output_path, filename or self.config_file_name), "w", encoding="utf-8") as handle:
            json.dump(self.get_config_dict(), handle, indent=2)

    def save_weights(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Write the module's state dict as ``model.safetensors`` (default) or a pickled ``pytorch_model.bin``."""
        Path(output_path).mkdir(parents=True, exist_ok=True)
        module_io.write_weights(self, output_path, safe_serialization)

    def save_torch_weights(self, output_path: str | Path, safe_serialization: bool = True) -> None:
        """sentence-transformers' name of :meth:`save_weights`, for custom modules' ``save``."""
        self.save_weights(output_path, safe_serialization=safe_serialization)

    def on_model_ready(self, model: nn.Module) -> None:
        """Hook run once the model that holds this module is fully built or loaded; a no-op by default.

        Override it to set state that depends on the whole model (e.g. its tokenizer). It runs when a
        SentenceTransformer or CrossEncoder is constructed (so also after every reload), not when a module is
        appended to an existing model: call it yourself then.

        Args:
            model: The model this module belongs to.
        """
        del model

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
    def load_config(
        cls,
        model_name_or_path: str | Path,
        subfolder: str = "",
        config_filename: str | None = None,
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
    ) -> dict[str, Any]:
        """Read the module's JSON config from a local folder or a Hub id (``{}`` if the file is absent).

        Old key names listed in ``config_key_renames`` are renamed to their new names.

        Args:
            model_name_or_path: A local model folder or a Hub model id.
            subfolder: The module's folder inside it, e.g. ``"1_Pooling"``.
            config_filename: File to read; default ``config_file_name``.
            token: Hub token.
            cache_folder: Hugging Face cache folder.
            revision: Hub revision.
            local_files_only: Never reach the network.
        """
        hub = {"token": token, "cache_folder": cache_folder, "revision": revision, "local_files_only": local_files_only}
        path = load_file_path(model_name_or_path, config_filename or cls.config_file_name, subfolder, **hub)
        return module_io.read_config(path, cls.config_key_renames)

    load_file_path = staticmethod(load_file_path)
    load_dir_path = staticmethod(load_dir_path)

    @classmethod
    def load_torch_weights(
        cls,
        model_name_or_path: str | Path,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        model: Self | None = None,
    ) -> Self | dict[str, torch.Tensor]:
        """Load ``model.safetensors`` (else ``pytorch_model.bin``) into ``model``, or return it as a state dict.

        Args:
            model_name_or_path: A local model folder or a Hub model id.
            subfolder: The module's folder inside it, e.g. ``"2_Dense"``.
            token: Hub token.
            cache_folder: Hugging Face cache folder.
            revision: Hub revision.
            local_files_only: Never reach the network.
            model: The module to load the weights into; None returns the weights.

        Raises:
            ValueError: If neither weights file exists.
            RuntimeError: If the weights' names do not match ``model``'s.
        """
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision}
        return module_io.read_weights(model_name_or_path, {**hub, "local_files_only": local_files_only}, model)

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
        config = module_io.read_config(load_file_path(path, cls.config_file_name), cls.config_key_renames)
        module = cls.from_config(config)
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

    def save_tokenizer(self, output_path: str | Path, **kwargs: Any) -> None:
        """Save :attr:`tokenizer` (a transformers or ``tokenizers`` tokenizer) to ``output_path``; None: nothing.

        Args:
            output_path: Folder to write into.
            **kwargs: Passed to the tokenizer's ``save_pretrained`` (or ``save``).
        """
        module_io.write_tokenizer(self.tokenizer, output_path, **kwargs)

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


def prepend_prompt(texts: Sequence[str] | Sequence[Sequence[str]], prompt: str) -> list[Any]:
    """``prompt + text`` for every text; for a text pair the prompt goes before the first text only (as ST)."""
    return [prompt + text if isinstance(text, str) else (prompt + text[0], *text[1:]) for text in texts]
