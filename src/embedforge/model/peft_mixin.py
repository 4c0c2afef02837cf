"""PeftAdapterMixin: add, load, switch and remove PEFT adapters (LoRA, IA³…) on a model's transformers model.

Mixed into :class:`~embedforge.model.base.BaseModel`, so every family (SentenceTransformer, CrossEncoder) has
sentence-transformers 6.2's adapter methods with their names and arguments. Each one acts on
``model.transformers_model``, the transformers model of the pipeline's Transformer module, with peft's own
functional API (:mod:`embedforge.models.adapter_io`): adapters are injected in place, base weights are frozen, and
the inner model stays a transformers model that gains a ``peft_config`` dict. Saving a model with an adapter
writes only the adapter for its Transformer module.

Example:
    >>> from peft import LoraConfig
    >>> model.add_adapter(LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"]))
    >>> model.active_adapters()
    ['default']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar

from embedforge.models import adapter_io

if TYPE_CHECKING:
    import torch
    from peft import PeftConfig
    from transformers import PreTrainedModel

__all__ = ["PeftAdapterMixin", "peft_wrapper"]

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")
_Self = TypeVar("_Self", bound="PeftAdapterMixin")


def peft_wrapper(
    func: Callable[Concatenate[_Self, _Params], _Result],
) -> Callable[Concatenate[_Self, _Params], _Result]:
    """Decorate an adapter method so that it first checks the model can take adapters (a clear ValueError)."""

    @functools.wraps(func)
    def wrapper(self: _Self, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        self.check_peft_compatible_model()
        return func(self, *args, **kwargs)

    return wrapper


class PeftAdapterMixin:
    """PEFT adapter methods for a model whose pipeline holds a Transformer module.

    The host class provides ``transformers_model`` (the transformers model inside its Transformer module, or None).
    """

    transformers_model: PreTrainedModel | None

    def has_peft_compatible_model(self) -> bool:
        """Whether the model can take adapters: its pipeline holds a Transformer module with a transformers model."""
        model = self.transformers_model
        if model is None:
            return False
        from transformers import PreTrainedModel

        return isinstance(model, PreTrainedModel)

    def check_peft_compatible_model(self) -> None:
        """Raise unless the model can take adapters.

        Raises:
            ValueError: The pipeline has no Transformer module (e.g. a StaticEmbedding model).
        """
        if not self.has_peft_compatible_model():
            raise ValueError(
                f"PEFT adapters need a model with a Transformer module (a transformers model to inject layers into); "
                f"this {type(self).__name__} has none. Use a model built on a transformers checkpoint."
            )

    def _adapter_host(self) -> PreTrainedModel:
        """The transformers model, which must already hold an adapter."""
        model = self.transformers_model
        if model is None or not adapter_io.adapter_configs(model):
            raise ValueError(
                "No adapter loaded. Add one with add_adapter(...) or load one with load_adapter(...) first."
            )
        return model

    @peft_wrapper
    def add_adapter(self, adapter_config: PeftConfig, adapter_name: str | None = None) -> None:
        """Add a fresh adapter for training and make it the active one; base weights are frozen.

        Args:
            adapter_config: A peft config of an injectable method (``LoraConfig``, ``IA3Config``…, not prompt
                learning). Its ``base_model_name_or_path`` is set to the path the base model was loaded from.
            adapter_name: The adapter's name; default ``"default"``.

        Raises:
            TypeError: ``adapter_config`` is not a peft config.
            ValueError: An adapter of that name exists already.
        """
        peft = adapter_io.import_peft()
        if not isinstance(adapter_config, peft.PeftConfig):
            raise TypeError(
                f"adapter_config must be a peft.PeftConfig (e.g. peft.LoraConfig(...)), got "
                f"{type(adapter_config).__name__}."
            )
        model = self.transformers_model
        adapter_config.base_model_name_or_path = model.__dict__.get("name_or_path")
        name = adapter_name or adapter_io.DEFAULT_ADAPTER_NAME
        adapter_io.attach_adapter(model, adapter_config, name, is_trainable=not adapter_config.inference_mode)
        self.set_adapter(name)

    @peft_wrapper
    def load_adapter(
        self,
        peft_model_id: str | Path | None = None,
        adapter_name: str | None = None,
        peft_config: PeftConfig | None = None,
        adapter_state_dict: dict[str, torch.Tensor] | None = None,
        low_cpu_mem_usage: bool = False,
        is_trainable: bool = False,
        hotswap: bool | Literal["auto"] = "auto",
        local_files_only: bool = False,
        adapter_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Load a saved adapter (a folder or Hub repository with ``adapter_config.json``) and make it active.

        Args:
            peft_model_id: Local adapter folder or Hub id; or give ``peft_config`` and ``adapter_state_dict``.
            adapter_name: Name for the loaded adapter; default ``"default"``.
            peft_config: The adapter's config, instead of reading ``peft_model_id``.
            adapter_state_dict: The adapter's weights (keys as in an adapter file), instead of reading them.
            low_cpu_mem_usage: Accepted for compatibility; adapters load on the CPU, then move with the model.
            is_trainable: Keep the adapter trainable; False (default) freezes it and puts the model in eval mode.
            hotswap: True replaces the weights of the existing adapter ``adapter_name`` in place (same shapes);
                ``"auto"`` and False add a new adapter.
            local_files_only: Never reach the Hub.
            adapter_kwargs: Hub options for the adapter (``revision``, ``token``, ``subfolder``, ``cache_dir``).
            **kwargs: More Hub options, merged under ``adapter_kwargs``.

        Raises:
            ValueError: Neither ``peft_model_id`` nor both ``peft_config`` and ``adapter_state_dict`` are given,
                or the adapter name is taken (unknown, with ``hotswap=True``).
        """
        del low_cpu_mem_usage
        hub = {**kwargs, **(adapter_kwargs or {})}
        if local_files_only:
            hub["local_files_only"] = True
        if peft_model_id is None and (peft_config is None or adapter_state_dict is None):
            raise ValueError(
                "load_adapter needs peft_model_id (an adapter folder or Hub id), or both peft_config and "
                "adapter_state_dict; got neither."
            )
        if peft_model_id is not None:
            read_config, read_weights = adapter_io.read_adapter(str(peft_model_id), **hub)
            peft_config = peft_config or read_config
            adapter_state_dict = adapter_state_dict if adapter_state_dict is not None else read_weights
        adapter_io.attach_adapter(
            self.transformers_model,
            peft_config,
            adapter_name or adapter_io.DEFAULT_ADAPTER_NAME,
            adapter_state_dict,
            is_trainable=is_trainable,
            inject=hotswap is not True,
        )

    @peft_wrapper
    def set_adapter(self, adapter_name: str | list[str]) -> None:
        """Make ``adapter_name`` (or several names) the active adapter(s), trainable; the others stop running.

        Raises:
            ValueError: No adapter is loaded, or a name is unknown.
        """
        from peft.functional import set_adapter

        model = self._adapter_host()
        names = [adapter_name] if isinstance(adapter_name, str) else list(adapter_name)
        missing = [name for name in names if name not in adapter_io.adapter_configs(model)]
        if missing:
            raise ValueError(
                f"Unknown adapter(s) {missing}; the loaded adapters are {sorted(adapter_io.adapter_configs(model))}."
            )
        set_adapter(model, adapter_name)

    @peft_wrapper
    def disable_adapters(self) -> None:
        """Run the base model only (adapters stay loaded; :meth:`enable_adapters` turns them back on)."""
        self._enable(False)

    @peft_wrapper
    def enable_adapters(self) -> None:
        """Run the active adapters again after :meth:`disable_adapters`."""
        self._enable(True)

    def _enable(self, enabled: bool) -> None:
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.utils import ModulesToSaveWrapper

        for module in self._adapter_host().modules():
            if isinstance(module, (BaseTunerLayer, ModulesToSaveWrapper)):
                module.enable_adapters(enabled)

    @peft_wrapper
    def active_adapters(self) -> list[str]:
        """The names of the active adapters (several when adapters are combined).

        Raises:
            ValueError: No adapter is loaded.
        """
        return adapter_io.active_adapter_names(self._adapter_host())

    @peft_wrapper
    def active_adapter(self) -> str:
        """The name of the first active adapter (sentence-transformers 6.2's method always fails here).

        Raises:
            ValueError: No adapter is loaded.
        """
        return self.active_adapters()[0]

    @peft_wrapper
    def get_adapter_state_dict(
        self, adapter_name: str | None = None, state_dict: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """The weights of one adapter, keyed by module path without the adapter name.

        Args:
            adapter_name: The adapter; default: the first active one.
            state_dict: Take the tensors from this state dict of the transformers model instead of the model.

        Returns:
            E.g. ``{"encoder.layer.0.attention.self.query.lora_A.weight": tensor (r, hidden), ...}``.
        """
        from peft import get_peft_model_state_dict

        model = self._adapter_host()
        name = adapter_name or adapter_io.active_adapter_names(model)[0]
        return get_peft_model_state_dict(model, state_dict=state_dict, adapter_name=name)

    @peft_wrapper
    def delete_adapter(self, adapter_names: str | list[str]) -> None:
        """Remove adapter(s) and their layers' tensors; after the last one the model has no ``peft_config``.

        Raises:
            ValueError: No adapter is loaded, or a name is unknown.
        """
        model = self._adapter_host()
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        configs = adapter_io.adapter_configs(model)
        missing = [name for name in names if name not in configs]
        if missing:
            raise ValueError(f"Cannot delete unknown adapter(s) {missing}; the loaded adapters are {sorted(configs)}.")
        for name in names:
            adapter_io.remove_adapter(model, name)
