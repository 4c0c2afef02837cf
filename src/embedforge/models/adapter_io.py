"""PEFT adapters on a transformers model: attach them, and save or load a Transformer folder that holds only one.

Built on peft's own functional API (``inject_adapter_in_model``, ``get_peft_model_state_dict``,
``set_peft_model_state_dict``), not on transformers' adapter methods, which refuse peft releases older than their
``MIN_PEFT_VERSION``. The result is the state transformers' integration leaves: the model stays the transformers
model, with LoRA (or other) layers injected in place, a ``peft_config`` dict attribute and the
``_hf_peft_config_loaded`` flag set.

On disk an adapter folder is what ``save_pretrained`` of transformers (and so sentence-transformers) writes:

- ``adapter_config.json``: the peft config, whose ``base_model_name_or_path`` names the base model;
- ``adapter_model.safetensors`` (``adapter_model.bin`` without safe serialization): the adapter weights only,
  keyed ``base_model.model.<module path>.lora_A.weight`` (the adapter name left out).

Loading such a folder loads the base model named in the config and attaches the adapter as ``"default"``,
frozen, as transformers' ``from_pretrained`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from peft import PeftConfig
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)

ADAPTER_CONFIG_NAME = "adapter_config.json"
ADAPTER_SAFE_WEIGHTS_NAME = "adapter_model.safetensors"
ADAPTER_WEIGHTS_NAME = "adapter_model.bin"
PEFT_KEY_PREFIX = "base_model.model."
"""The prefix of every key in an adapter weights file (the path of the base model inside a ``PeftModel``)."""
DEFAULT_ADAPTER_NAME = "default"


def import_peft() -> ModuleType:
    """The ``peft`` package, or an ImportError that names the extra to install."""
    try:
        import peft
    except ImportError as error:
        raise ImportError(
            "PEFT adapters need the peft package, which is not installed. "
            'Install it with: pip install "embedforge[peft]"'
        ) from error
    return peft


def adapter_configs(model: torch.nn.Module) -> dict[str, PeftConfig]:
    """The model's adapter configs by adapter name (its ``peft_config`` attribute); empty without adapters."""
    configs = model.__dict__.get("peft_config")
    return configs if isinstance(configs, dict) else {}


def is_adapter_folder(path: str | Path) -> bool:
    """True if ``path`` is a local folder holding an adapter but not its base model.

    That is, an ``adapter_config.json`` and no ``config.json``.
    """
    folder = Path(path)
    return (folder / ADAPTER_CONFIG_NAME).is_file() and not (folder / "config.json").is_file()


def attach_adapter(
    model: PreTrainedModel,
    config: PeftConfig,
    adapter_name: str,
    weights: dict[str, torch.Tensor] | None = None,
    *,
    is_trainable: bool = True,
    inject: bool = True,
) -> None:
    """Inject the layers of one adapter into ``model`` in place and, if given, load their weights.

    Base weights are frozen; the new adapter becomes the active one.

    Args:
        model: The transformers model.
        config: The adapter's peft config.
        adapter_name: Its name; must be new unless ``inject`` is False.
        weights: Adapter weights keyed as in an adapter file (``base_model.model.`` prefix optional, adapter name
            left out); None keeps the fresh initialization.
        is_trainable: False freezes the adapter too (inference only) and puts the model in eval mode.
        inject: False loads ``weights`` into the existing adapter of that name (hot swap) instead.

    Raises:
        ValueError: The name is taken (or, with ``inject=False``, unknown), or ``weights`` lack some adapter tensor.
    """
    peft = import_peft()
    known = adapter_configs(model)
    if inject and adapter_name in known:
        raise ValueError(
            f"An adapter named {adapter_name!r} already exists (adapters: {sorted(known)}). "
            "Pass another adapter_name, or delete_adapter it first."
        )
    if not inject and adapter_name not in known:
        raise ValueError(
            f"Cannot swap weights into adapter {adapter_name!r}: no such adapter (adapters: {sorted(known)}). "
            "Load it without hotswap first."
        )
    config.inference_mode = not is_trainable
    if inject:
        peft.inject_adapter_in_model(config, model, adapter_name)
        model._hf_peft_config_loaded = True
    if weights is not None:
        try:
            _load_adapter_weights(model, weights, adapter_name)
        except ValueError:
            if inject:
                remove_adapter(model, adapter_name)
            raise
    if not is_trainable:
        _freeze_adapters(model)


def remove_adapter(model: PreTrainedModel, adapter_name: str) -> None:
    """Take an adapter out again: its layers' tensors and its config (no config left: no adapter state at all)."""
    from peft.functional import delete_adapter

    configs = adapter_configs(model)
    delete_adapter(model, adapter_name=adapter_name, prefix=f"{configs[adapter_name].peft_type.value.lower()}_")
    configs.pop(adapter_name)
    if not configs:
        del model.peft_config
        model._hf_peft_config_loaded = False


def _freeze_adapters(model: PreTrainedModel) -> None:
    """Inference only: eval mode and no adapter tensor requires grad (as transformers' load_adapter does)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    model.eval()
    for module in model.modules():
        if isinstance(module, BaseTunerLayer):
            module.requires_grad_(False)


def _load_adapter_weights(model: PreTrainedModel, weights: dict[str, torch.Tensor], adapter_name: str) -> None:
    """Load adapter-file weights into the adapter; every tensor of the adapter must be given."""
    peft = import_peft()
    stripped = {key.removeprefix(PEFT_KEY_PREFIX): value for key, value in weights.items()}
    expected = set(peft.get_peft_model_state_dict(model, adapter_name=adapter_name))
    missing = sorted(expected - set(stripped))
    if missing:
        raise ValueError(
            f"The adapter weights lack {len(missing)} of the {len(expected)} tensors of adapter {adapter_name!r}, "
            f"e.g. {missing[:3]}. Check that the weights file belongs to this adapter config and base model."
        )
    result = peft.set_peft_model_state_dict(model, stripped, adapter_name=adapter_name)
    unexpected = [key for key in result.unexpected_keys if adapter_name in key.split(".")]
    if unexpected:
        logger.warning("Adapter weights not used by adapter %r: %s", adapter_name, unexpected[:5])


def adapter_state_dict(model: PreTrainedModel, adapter_name: str | None = None) -> dict[str, torch.Tensor]:
    """The weights of one adapter (default: the first active one), keyed as transformers' get_adapter_state_dict.

    Keys are module paths inside ``model`` without the adapter name, e.g.
    ``encoder.layer.0.attention.self.query.lora_A.weight``.
    """
    peft = import_peft()
    name = adapter_name or active_adapter_names(model)[0]
    return peft.get_peft_model_state_dict(model, adapter_name=name)


def active_adapter_names(model: PreTrainedModel) -> list[str]:
    """The active adapters of ``model`` (those its adapter layers run), in order.

    Raises:
        ValueError: The model has no adapter.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    import_peft()
    for module in model.modules():
        if isinstance(module, BaseTunerLayer):
            active = module.active_adapter
            return [active] if isinstance(active, str) else list(active)
    raise ValueError("No adapter loaded. Add one with add_adapter(...) or load one with load_adapter(...) first.")


def save_adapter(model: PreTrainedModel, path: str | Path, *, safe_serialization: bool = True) -> None:
    """Write the active adapter of ``model`` as ``adapter_config.json`` + ``adapter_model.safetensors`` in ``path``.

    Raises:
        ValueError: Several adapters are active at once (save them one by one after ``set_adapter``).
    """
    import torch

    active = active_adapter_names(model)
    if len(active) > 1:
        raise ValueError(
            f"Several adapters are active ({active}); an adapter folder holds one. Save them one at a time: "
            "model.set_adapter(name), then model.save(folder)."
        )
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    adapter_configs(model)[active[0]].save_pretrained(str(folder))
    weights = {
        f"{PEFT_KEY_PREFIX}{key}": value.detach().contiguous()
        for key, value in adapter_state_dict(model, active[0]).items()
    }
    if safe_serialization:
        from safetensors.torch import save_file

        save_file(weights, str(folder / ADAPTER_SAFE_WEIGHTS_NAME), metadata={"format": "pt"})
    else:
        torch.save(weights, folder / ADAPTER_WEIGHTS_NAME)


def save_pretrained(model: PreTrainedModel, path: Path, *, safe_serialization: bool = True) -> None:
    """``model.save_pretrained(path)``, or only its active adapter when it has adapters (see :func:`save_adapter`).

    ``path`` is created if needed.
    """
    if adapter_configs(model):
        save_adapter(model, path, safe_serialization=safe_serialization)
    else:
        model.save_pretrained(str(path), safe_serialization=safe_serialization)


def read_adapter(name: str, **hub_kwargs: Any) -> tuple[PeftConfig, dict[str, torch.Tensor]]:
    """The config and weights of the adapter in a local folder or Hub repository ``name``.

    Args:
        name: Local adapter folder or Hub id.
        **hub_kwargs: ``revision``, ``token``, ``cache_dir``, ``subfolder``, ``local_files_only``… for the Hub.
    """
    peft = import_peft()
    from peft.utils import load_peft_weights

    config = peft.PeftConfig.from_pretrained(name, **hub_kwargs)
    return config, load_peft_weights(name, device="cpu", **hub_kwargs)


def load_adapter_model(
    name: str,
    model_kwargs: dict[str, Any],
    config_kwargs: dict[str, Any],
    load_base: Callable[[str, dict[str, Any], dict[str, Any]], PreTrainedModel],
) -> PreTrainedModel:
    """Load the base model of the adapter folder ``name`` and attach its adapter (as ``"default"``, frozen).

    Args:
        name: A local folder holding ``adapter_config.json`` and the adapter weights.
        model_kwargs: ``from_pretrained`` options for the base model; a ``revision`` is left out (it names the
            adapter's version, not the base model's, as in sentence-transformers).
        config_kwargs: ``AutoConfig.from_pretrained`` options, ``revision`` left out the same way.
        load_base: Loads a transformers model from a path or Hub id, model options and config options.

    Raises:
        OSError: The base model named in ``adapter_config.json`` cannot be loaded.
    """
    config, weights = read_adapter(name)
    base_kwargs = [
        {key: value for key, value in kw.items() if key != "revision"} for kw in (model_kwargs, config_kwargs)
    ]
    base_name = config.base_model_name_or_path
    if not base_name:
        raise ValueError(
            f"{Path(name) / ADAPTER_CONFIG_NAME} names no base model (base_model_name_or_path is empty). "
            "Set it to the path or Hub id of the model the adapter was trained on."
        )
    try:
        model = load_base(base_name, *base_kwargs)
    except OSError as error:
        raise OSError(
            f"The adapter in {name} is for the base model {base_name!r} (base_model_name_or_path in "
            f"{ADAPTER_CONFIG_NAME}), which could not be loaded: {error}. Make that model reachable (copy it to "
            f"that path, or go online for a Hub id), or set base_model_name_or_path to where it now is."
        ) from error
    attach_adapter(model, config, DEFAULT_ADAPTER_NAME, weights, is_trainable=False)
    return model


def fit_checkpoint_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fit the state dict of a model loaded from a checkpoint to ``model``, the model being trained.

    A checkpoint of a model with adapters holds its active adapter only, which loads back as ``"default"``: its
    tensors are renamed to the active adapter of ``model``, and the tensors of ``model``'s other adapters are kept.
    Without adapters ``state`` is returned as it is.

    Raises:
        ValueError: A checkpoint tensor has no counterpart in ``model`` (the checkpoint is of another model).
    """
    host = next((module for module in model.modules() if adapter_configs(module)), None)
    if host is None:
        return state
    active = active_adapter_names(host)[0]
    fitted = model.state_dict()
    for key, value in state.items():
        name = ".".join(active if part == DEFAULT_ADAPTER_NAME else part for part in key.split("."))
        if name not in fitted:
            raise ValueError(
                f"The checkpoint holds {key!r}, which the model being trained (active adapter {active!r}) lacks. "
                "Resume with the model and adapter config the checkpoint was trained with."
            )
        fitted[name] = value
    return fitted
