"""File helpers behind the sentence-transformers custom-module contract of :class:`~embedforge.models.Module`.

A custom module written for sentence-transformers reads and writes its own files inside ``load`` and ``save``
through ``load_config``, ``load_file_path``, ``load_dir_path``, ``load_torch_weights``, ``save_torch_weights``
and ``save_tokenizer``. The functions here do the work; the methods on :class:`~embedforge.models.Module` and
:class:`~embedforge.models.InputModule` only forward to them.

Files are found with :mod:`embedforge.util.file_io` (``load_file_path`` / ``load_dir_path``, as in
sentence-transformers): the local folder ``model_name_or_path / subfolder`` first; only when ``model_name_or_path``
is not a local folder is it taken as a Hugging Face Hub id (``huggingface_hub`` is imported then, never before).

The helpers of embedforge's own loading (``read_json``, ``load_state_dict``, ``load_weights_into``,
``merge_load_options``, ``module_folder``) live here too; :mod:`embedforge.models.base` re-exports them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from embedforge.util.file_io import load_file_path

if TYPE_CHECKING:
    from embedforge.models.base import LoadContext

logger = logging.getLogger(__name__)

WEIGHTS_SAFETENSORS = "model.safetensors"
WEIGHTS_PICKLE = "pytorch_model.bin"


def read_config(config_path: str | None, renames: dict[str, str]) -> dict[str, Any]:
    """Read a module's JSON config (``{}`` when ``config_path`` is None) and apply ``renames`` (old → new key).

    A renamed key is moved only when the new name is not already present, so a config that holds both keeps the
    new value.
    """
    if config_path is None:
        return {}
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    for old_key, new_key in renames.items():
        if old_key in config and new_key not in config:
            config[new_key] = config.pop(old_key)
    return config


def read_weights(
    model_name_or_path: str | Path, hub_kwargs: dict[str, Any], module: nn.Module | None
) -> nn.Module | dict[str, torch.Tensor]:
    """Load ``model.safetensors`` (else ``pytorch_model.bin``) into ``module``, or return the state dict.

    Args:
        model_name_or_path: A local model folder or a Hub id.
        hub_kwargs: ``subfolder``, ``token``, ``cache_folder``, ``revision``, ``local_files_only``.
        module: The module to load into (strict: names must match), or None to return the weights.

    Raises:
        ValueError: If neither weights file exists.
        RuntimeError: If the safetensors weights miss or add parameter names.
    """
    safetensors_path = load_file_path(model_name_or_path, WEIGHTS_SAFETENSORS, **hub_kwargs)
    if safetensors_path is not None:
        from safetensors.torch import load_file, load_model

        if module is None:
            return load_file(safetensors_path)
        missing, unexpected = load_model(module, safetensors_path, strict=False)
        if missing or unexpected:
            raise RuntimeError(
                f"Weights in {safetensors_path} do not match {type(module).__name__}: missing keys "
                f"{sorted(missing)}, unexpected keys {sorted(unexpected)}. Build the module with the config it "
                "was saved with, or re-save it."
            )
        return module
    pickle_path = load_file_path(model_name_or_path, WEIGHTS_PICKLE, **hub_kwargs)
    if pickle_path is None:
        raise ValueError(
            f"Expected {WEIGHTS_SAFETENSORS} or {WEIGHTS_PICKLE} in {model_name_or_path} "
            f"(subfolder {hub_kwargs.get('subfolder', '')!r}), found neither. Save the module's weights there."
        )
    weights = torch.load(pickle_path, map_location=torch.device("cpu"), weights_only=True)
    if module is None:
        return weights
    module.load_state_dict(weights)
    return module


def write_weights(module: nn.Module, output_path: str | Path, safe_serialization: bool = True) -> None:
    """Write ``module``'s state dict to ``output_path`` as ``model.safetensors`` or ``pytorch_model.bin``."""
    if safe_serialization:
        from safetensors.torch import save_model

        save_model(module, str(Path(output_path, WEIGHTS_SAFETENSORS)))
    else:
        torch.save(module.state_dict(), Path(output_path, WEIGHTS_PICKLE))


def write_tokenizer(tokenizer: Any, output_path: str | Path, **kwargs: Any) -> None:
    """Save a transformers tokenizer (``save_pretrained``) or a ``tokenizers.Tokenizer`` (``save``).

    Any other value (None, a custom tokenizer) is skipped with a warning, as sentence-transformers skips it:
    a module with such a tokenizer saves it in its own ``save``.
    """
    if tokenizer is None:
        return
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase

    if isinstance(tokenizer, PreTrainedTokenizerBase):
        tokenizer.save_pretrained(str(output_path), **kwargs)
    elif isinstance(tokenizer, Tokenizer):
        tokenizer.save(str(output_path), **kwargs)
    else:
        logger.warning(
            "save_tokenizer expected a transformers PreTrainedTokenizerBase or a tokenizers.Tokenizer, found %s; "
            "nothing was saved. Save this tokenizer in the module's own save method.",
            type(tokenizer).__name__,
        )


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


_ST_OPTION_NAMES = {"processor_kwargs": "tokenizer_kwargs"}
_OPTION_NAMES = ("trust_remote_code", "model_kwargs", "tokenizer_kwargs", "config_kwargs", "backend")


def merge_load_options(
    context: LoadContext | None, options: dict[str, Any], *, local_files_only: bool = False
) -> LoadContext:
    """``context`` (or the defaults) with the options that are set (not ``None``) replacing its fields.

    Raises:
        TypeError: If an option is not a loading option.
    """
    from embedforge.models.base import LoadContext

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
