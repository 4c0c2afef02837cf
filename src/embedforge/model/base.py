"""BaseModel: what every model family shares — loading and saving the folder format, device, prompts, model card.

A model family (:class:`~embedforge.SentenceTransformer`, :class:`~embedforge.CrossEncoder`) is a pipeline of
modules plus what it does with their outputs. The base holds the rest: it builds the pipeline from a folder,
a plain transformers checkpoint or given modules; reads the family's settings from
``config_sentence_transformers.json`` and writes them back; knows its device, dtype, prompts and model card data;
uploads to the Hub; and runs work in a pool of processes.

A subclass declares its ``model_type`` (the name written to the folder), builds its
:meth:`BaseModel.default_modules` for folders that hold no modules of its family, turns its settings into
:meth:`BaseModel.family_settings` and back (:meth:`BaseModel.apply_settings`), and says what a pool worker does
with a chunk of inputs (:meth:`BaseModel.run_chunk`).
"""

from __future__ import annotations

import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from embedforge.io.layout import ModelConfig
from embedforge.model.loading import build_pipeline, check_default_prompt, version_info
from embedforge.model.peft_mixin import PeftAdapterMixin
from embedforge.model.prompts import resolve_prompt
from embedforge.models.base import Features, InputModule, LoadContext, Module
from embedforge.models.router import Router

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from embedforge.model.multi_process import MultiProcessPool

logger = logging.getLogger(__name__)

_ABSENT = object()


def default_device() -> str:
    """``cuda`` if available, else ``mps`` if available, else ``cpu``."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class BaseModel(nn.Sequential, PeftAdapterMixin, ABC):
    """A pipeline of modules loaded from, and saved to, the sentence-transformers folder format.

    Args:
        model_name_or_path: A sentence-transformers folder, a plain transformers checkpoint or a Hub id.
        modules: Build the model from these modules instead of loading one.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; default: the best available.
        prompts: Named prompts, merged over the saved ones (the caller's win).
        default_prompt_name: Prompt applied when none is given; default: the saved one.
        context: Loading options shared by every module.
        model_card_data: The family's model card data.

    Class attributes:
        model_type: The family name written to ``config_sentence_transformers.json``.
        model_card_data_class: The family's model card data class (built when no ``model_card_data`` is given).
        default_huggingface_organization: Hub organization tried first for a bare model name (``"name"`` →
            ``"organization/name"``); None: none.
    """

    model_type: ClassVar[str]
    model_card_data_class: ClassVar[type]
    default_huggingface_organization: ClassVar[str | None] = None

    def __init__(
        self,
        model_name_or_path: str | Path | None,
        modules: Iterable[nn.Module] | None,
        device: str | None,
        *,
        prompts: dict[str, str] | None,
        default_prompt_name: str | None,
        context: LoadContext,
        model_card_data: Any,
    ) -> None:
        named, config, self.model_card_text = build_pipeline(model_name_or_path, modules, context, type(self))
        super().__init__(named)
        self.trust_remote_code = context.trust_remote_code
        self.backend = context.backend
        self.prompts: dict[str, str] = {**config.prompts, **(prompts or {})}
        self.default_prompt_name = check_default_prompt(default_prompt_name or config.default_prompt_name, self.prompts)
        self.model_card_data = model_card_data
        if model_name_or_path is not None:
            self.model_card_data.set_base_model(str(model_name_or_path))
        self.apply_settings(config.settings)
        self.to(device or default_device())
        self.notify_model_ready()

    # ------------------------------------------------------------ family hooks
    @classmethod
    @abstractmethod
    def default_modules(cls, folder: Path, context: LoadContext) -> list[Module]:
        """The modules of a new model of this family on top of a checkpoint that holds none of its modules.

        Used for plain transformers checkpoints, older folders without ``modules.json`` and folders saved by
        another family (e.g. a bi-encoder's backbone turned into a cross-encoder).
        """

    @abstractmethod
    def family_settings(self) -> dict[str, Any]:
        """The family's keys of ``config_sentence_transformers.json`` (see ``layout.FAMILY_SETTINGS``)."""

    @abstractmethod
    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Take the family's saved settings (an explicit constructor argument wins over a saved value)."""

    @abstractmethod
    def run_chunk(self, inputs: list[Any], options: Any) -> Any:
        """Process one chunk of inputs in this process (what a pool worker does with a task)."""

    def notify_model_ready(self) -> None:
        """Run every module's :meth:`~embedforge.models.Module.on_model_ready` hook, routed modules included.

        Every embedforge module in the tree gets the hook once (``nn.Module.modules`` visits a module shared by
        several routes once). Called at the end of construction; call it again after adding modules.
        """
        for module in self.modules():
            if isinstance(module, Module):
                module.on_model_ready(self)

    # -------------------------------------------------------------- properties
    def get_backend(self) -> str:
        """The inference backend: ``"torch"``, ``"onnx"`` or ``"openvino"``."""
        return self.backend

    @property
    def modalities(self) -> list[str]:
        """Input modalities the model takes: its input module's (``["text"]`` for every embedforge module)."""
        return list(self.input_module.modalities)

    def supports(self, modality: str | tuple[str, ...]) -> bool:
        """Whether the model takes ``modality`` (e.g. ``"text"``); a tuple needs each part and ``"message"``."""
        supported = self.modalities
        if modality in supported:
            return True
        return isinstance(modality, tuple) and "message" in supported and all(part in supported for part in modality)

    def is_singular_input(self, inputs: Any) -> bool:
        """True if ``inputs`` is one example, False if it is a batch.

        A list, tuple, ``datasets.Column`` or a NumPy array of strings/objects is a batch, except a list of
        chat messages (dicts with ``role`` and ``content``), which is one conversation.
        """
        if isinstance(inputs, list) and inputs and _is_message(inputs[0]):
            return True
        datasets = sys.modules.get("datasets")  # a Column exists only once datasets is imported
        batch_types = (list, tuple, *((datasets.Column,) if datasets is not None else ()))
        if isinstance(inputs, batch_types):
            return False
        return not (isinstance(inputs, np.ndarray) and inputs.ndim >= 1 and inputs.dtype.kind in ("U", "O"))

    @property
    def device(self) -> torch.device:
        """Device of the model's first parameter (CPU for a parameter-free model)."""
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype | None:
        """Dtype of the model's first parameter (all parameters are assumed to share it); None without any."""
        for tensor in self.parameters():
            return tensor.dtype
        return None

    @property
    def input_module(self) -> InputModule:
        """The first module, which tokenizes inputs."""
        first = self[0]
        if not isinstance(first, InputModule):
            raise TypeError(
                f"The first module must be an embedforge InputModule (e.g. Transformer), found "
                f"{type(first).__name__}. Put the tokenizing module first."
            )
        return first

    @property
    def tokenizer(self) -> Any:
        """The input module's tokenizer."""
        return self.input_module.tokenizer

    @tokenizer.setter
    def tokenizer(self, value: Any) -> None:
        self.input_module.tokenizer = value

    processor = tokenizer

    @property
    def max_seq_length(self) -> int | None:
        """Longest input in tokens of the first module (longer inputs are truncated); None when it has no limit.

        As in sentence-transformers, a first module that is not an InputModule (a custom module) is asked for its
        ``max_seq_length`` attribute, if it has one.
        """
        first = self[0]
        if isinstance(first, InputModule):
            return first.max_seq_length
        return getattr(first, "max_seq_length", None)

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        first = self[0]
        if not isinstance(first, InputModule) and getattr(first, "max_seq_length", _ABSENT) is _ABSENT:
            raise AttributeError(
                f"Cannot set max_seq_length={value}: the first module, {type(first).__name__}, has no "
                "max_seq_length. Give that module a max_seq_length attribute (applied in its tokenize), or set the "
                "limit on the module that tokenizes."
            )
        first.max_seq_length = value

    def get_max_seq_length(self) -> int | None:
        """Longest input in tokens."""
        return self.max_seq_length

    @property
    def transformers_model(self) -> PreTrainedModel | None:
        """The transformers model inside the first Transformer module, or None."""
        from embedforge.models.transformer import Transformer

        for module in self.modules():
            if isinstance(module, Transformer):
                return module.auto_model
        return None

    # ----------------------------------------------------------------- running
    def tokenize(self, texts: Sequence[Any], **kwargs: Any) -> Features:
        """Tokenize texts (or text pairs) with the input module (``prompt=`` and ``task=`` are honoured)."""
        return self.input_module.preprocess(texts, **kwargs)

    preprocess = tokenize

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Run every module; each gets only the keyword arguments it declares in ``forward_kwargs``.

        A Router gets those that any of its sub-modules declares, and hands each sub-module its own.
        """
        for module in self:
            accepted = _accepted_forward_kwargs(module)
            features = module(features, **{key: value for key, value in kwargs.items() if key in accepted})
        return features

    def get_model_kwargs(self) -> list[str]:
        """The extra keyword arguments of ``encode`` that some module takes (declared in its ``forward_kwargs``).

        Returns:
            The names, sorted (e.g. ``["task"]`` for a model with a Router; ``[]`` for most models).
        """
        return sorted({name for names in self.forward_kwargs_by_module().values() for name in names})

    def forward_kwargs_by_module(self) -> dict[str, list[str]]:
        """Per module type (Router sub-modules included), the ``forward_kwargs`` it declares (none: left out)."""
        found: dict[str, set[str]] = {}
        for module in self.modules():
            if isinstance(module, Module) and module.forward_kwargs:
                found.setdefault(type(module).__name__, set()).update(module.forward_kwargs)
        return {name: sorted(names) for name, names in found.items()}

    def resolve_prompt(self, prompt_name: str | None, prompt: str | None) -> str | None:
        """The prompt text of one call: ``prompt`` wins, then ``prompt_name``, then the default prompt."""
        return resolve_prompt(self.prompts, self.default_prompt_name, prompt_name, prompt)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict[str, Any] | None = None) -> None:
        """Turn on gradient checkpointing in every Transformer module (less memory, more compute)."""
        from embedforge.models.transformer import Transformer

        for module in self.modules():
            if isinstance(module, Transformer):
                module.auto_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs)

    # ------------------------------------------------------------------ saving
    def save(
        self,
        path: str | Path,
        model_name: str | None = None,
        create_model_card: bool = True,
        train_datasets: list[str] | None = None,
        safe_serialization: bool = True,
    ) -> None:
        """Write the model in the sentence-transformers format (loadable by sentence-transformers and embedforge).

        Args:
            path: Target folder.
            model_name: Name for the model card.
            create_model_card: Write README.md (the card the model was loaded with, if it was not trained since).
            train_datasets: Dataset names for the model card.
            safe_serialization: safetensors (True) or pickled weights.
        """
        from embedforge.io.save import save_model_folder

        if train_datasets is not None:
            self.model_card_data.train_datasets = [{"name": name} for name in train_datasets]
        config = ModelConfig(
            versions=version_info(),
            prompts=dict(self.prompts),
            default_prompt_name=self.default_prompt_name,
            model_type=self.model_type,
            settings=self.family_settings(),
        )
        card = self._model_card(model_name) if create_model_card else None
        save_model_folder(
            path, list(self.named_children()), config, safe_serialization=safe_serialization, model_card=card
        )

    save_pretrained = save

    def _model_card(self, model_name: str | None) -> str | None:
        from embedforge.model_card import render_model_card

        if model_name is not None:
            self.model_card_data.model_name = model_name
        if self.model_card_data.trained or self.model_card_text is None:
            return render_model_card(self, self.model_card_data)
        return self.model_card_text

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Save to a temporary folder and upload it to the Hub; see :func:`embedforge.io.upload.push_to_hub`."""
        from embedforge.io.upload import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    save_to_hub = push_to_hub

    # ----------------------------------------------------------- multi-process
    def start_multi_process_pool(self, target_devices: list[str] | None = None) -> MultiProcessPool:
        """Start worker processes (one per device; default all GPUs, else 4 CPU workers)."""
        from embedforge.model.multi_process import start_pool

        return start_pool(self, target_devices)

    @staticmethod
    def stop_multi_process_pool(pool: MultiProcessPool) -> None:
        """Stop the workers of a pool."""
        pool.close()

    def run_distributed(
        self, inputs: list[Any], options: Any, pool: MultiProcessPool | None, device: Any, chunk_size: int | None
    ) -> Any:
        """Run :meth:`run_chunk` here, in ``pool``, or in a temporary pool when ``device`` is a list of devices.

        Without ``pool`` or a device list, a pool made active for this model (``multi_process.using_pool``, e.g. the
        DDP ranks sharing rank 0's evaluation in ``util.distributed.distributed_evaluation``) takes the work.
        """
        if pool is None and not isinstance(device, list):
            from embedforge.model.multi_process import active_pool

            pool = active_pool(self)
        if isinstance(device, list) and pool is None:
            from embedforge.model.multi_process import start_pool

            pool = start_pool(self, device)
            try:
                return pool.run(inputs, options, chunk_size)
            finally:
                pool.close()
        if pool is not None:
            return pool.run(inputs, options, chunk_size)
        from embedforge.backend.backend_model import runtime_threads

        with runtime_threads(self):
            return self.run_chunk(inputs, options)

    def evaluate(self, evaluator: Any, output_path: str | None = None) -> dict[str, float] | float:
        """Run an evaluator on this model."""
        if output_path is not None:
            Path(output_path).mkdir(parents=True, exist_ok=True)
        return evaluator(self, output_path=output_path)


__all__ = ["BaseModel", "default_device"]


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and "role" in value and "content" in value


def _accepted_forward_kwargs(module: nn.Module) -> frozenset[str]:
    """The keyword arguments a top-level module's forward takes: its own; a Router's, those of all its parts."""
    if isinstance(module, Router):
        return frozenset(name for part in module.modules() if isinstance(part, Module) for name in part.forward_kwargs)
    return module.forward_kwargs if isinstance(module, Module) else frozenset()
