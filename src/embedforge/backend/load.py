"""Load a model for the ONNX or OpenVINO backend, exporting it first when the folder holds no exported file."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.backend.requirements import require_backend
from embedforge.backend.utils import backend_should_export, backend_warn_to_save

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

    from embedforge.backend.backend_model import BackendModel

__all__ = [
    "BACKEND_LAYOUTS",
    "BackendLayout",
    "load_backend_model",
    "load_onnx_model",
    "load_openvino_model",
    "load_transformer_backend",
]

logger = logging.getLogger(__name__)

TorchLoader = Callable[[str, dict[str, Any]], "PreTrainedModel"]
"""Loads the transformers model of a name with the given ``from_pretrained`` keyword arguments."""


@dataclass(frozen=True)
class BackendLayout:
    """Where a backend keeps its files, written down as data.

    Attributes:
        name: Human-readable name, used in messages (its lower-case form is the subfolder).
        default_file_name: The file loaded when ``model_kwargs`` names none.
        file_glob: What the backend's model files look like.
        companion_suffixes: Files stored beside each model file under the same stem.
        runtime_keys: ``model_kwargs`` keys that configure the runtime, not transformers' ``from_pretrained``.
    """

    name: str
    default_file_name: str
    file_glob: str
    companion_suffixes: tuple[str, ...]
    runtime_keys: tuple[str, ...]


BACKEND_LAYOUTS: dict[str, BackendLayout] = {
    "onnx": BackendLayout(
        "ONNX", "model.onnx", "*.onnx", (), ("provider", "session_options", "provider_options", "streams")
    ),
    "openvino": BackendLayout(
        "OpenVINO", "openvino_model.xml", "openvino*.xml", (".bin",), ("ov_config", "device", "short_sequence_length")
    ),
}
"""The two backends besides torch."""

_LOCATION_KEYS = ("file_name", "subfolder", "export")
_HUB_KEYS = ("revision", "token", "cache_dir", "local_files_only")


def load_onnx_model(
    model_name_or_path: str, config: PretrainedConfig, task_name: str, **model_kwargs: Any
) -> BackendModel:
    """Load (exporting first where needed) the ONNX model of ``model_name_or_path`` for ``task_name``."""
    return load_backend_model("onnx", model_name_or_path, config, task_name, model_kwargs, _auto_loader(task_name))


def load_openvino_model(
    model_name_or_path: str, config: PretrainedConfig, task_name: str, **model_kwargs: Any
) -> BackendModel:
    """Load (exporting first where needed) the OpenVINO model of ``model_name_or_path`` for ``task_name``."""
    return load_backend_model("openvino", model_name_or_path, config, task_name, model_kwargs, _auto_loader(task_name))


def load_transformer_backend(
    backend: str,
    name: str,
    model_kwargs: dict[str, Any],
    config_kwargs: dict[str, Any],
    task: str,
    load_torch: Callable[[str, dict[str, Any], dict[str, Any], str], PreTrainedModel],
) -> BackendModel:
    """The ONNX or OpenVINO model of a Transformer module (exported from the torch model when the folder has none).

    Args:
        backend: ``"onnx"`` or ``"openvino"``.
        name: Local folder or Hub id.
        model_kwargs: The module's ``model_kwargs`` (backend keys and ``from_pretrained`` arguments).
        config_kwargs: ``AutoConfig.from_pretrained`` arguments.
        task: The module's transformer task.
        load_torch: The module's torch loader ``(name, model_kwargs, config_kwargs, task) -> model``.
    """
    import transformers

    from embedforge.models import adapter_io

    if adapter_io.is_adapter_folder(name):
        raise ValueError(
            f"{name!r} holds a PEFT adapter, which the {backend} backend cannot load. Load it with backend='torch', "
            "merge the adapter into the base model (peft's merge_and_unload), save that, then export it."
        )
    config = transformers.AutoConfig.from_pretrained(name, **config_kwargs)
    return load_backend_model(
        backend, name, config, task, model_kwargs, lambda path, kwargs: load_torch(path, kwargs, config_kwargs, task)
    )


def load_backend_model(
    backend: str,
    model_name_or_path: str,
    config: PretrainedConfig,
    task: str,
    model_kwargs: dict[str, Any],
    load_torch: TorchLoader,
) -> BackendModel:
    """Find or export the backend's model file and open it in its runtime.

    Args:
        backend: ``"onnx"`` or ``"openvino"``.
        model_name_or_path: Local folder or Hub id.
        config: The transformers config of the model.
        task: ``"feature-extraction"`` or ``"sequence-classification"``.
        model_kwargs: sentence-transformers' backend keys (``file_name``, ``subfolder``, ``export``, ``provider``,
            ``session_options``, ``provider_options``, ``ov_config``, ``device``) and, for an export, transformers'
            ``from_pretrained`` arguments.
        load_torch: Loads the torch model that an export starts from.

    Returns:
        The runtime's model; after an export it owns a temporary folder holding the file until it is saved.
    """
    if backend not in BACKEND_LAYOUTS:
        raise ValueError(f"backend must be 'torch', 'onnx' or 'openvino', got {backend!r}.")
    require_backend(backend)
    layout = BACKEND_LAYOUTS[backend]
    kwargs = dict(model_kwargs)
    runtime = {key: kwargs.pop(key) for key in layout.runtime_keys if key in kwargs}
    load_path = Path(model_name_or_path)
    is_local = load_path.is_dir()
    export, kwargs = backend_should_export(
        load_path, is_local, kwargs, layout.default_file_name, layout.file_glob, layout.name
    )
    scratch = None
    if export:
        scratch = tempfile.TemporaryDirectory(prefix=f"embedforge-{backend}-")
        torch_kwargs = {key: value for key, value in kwargs.items() if key not in _LOCATION_KEYS}
        model_file = _export(backend, load_torch(model_name_or_path, torch_kwargs), task, Path(scratch.name))
        backend_warn_to_save(model_name_or_path, is_local, layout.name)
    else:
        model_file = _locate(load_path, is_local, kwargs, layout)
    model = _open(backend, config, task, model_file, runtime)
    model.scratch = scratch
    return model


def _export(backend: str, torch_model: PreTrainedModel, task: str, folder: Path) -> Path:
    from embedforge.backend.onnx_export import export_to_onnx

    onnx_file = export_to_onnx(torch_model.cpu().eval(), task, folder / "onnx" / "model.onnx")
    if backend == "onnx":
        return onnx_file
    from embedforge.backend.openvino_model import convert_onnx_to_openvino

    return convert_onnx_to_openvino(onnx_file, folder / "openvino" / "openvino_model.xml")


def _locate(load_path: Path, is_local: bool, kwargs: dict[str, Any], layout: BackendLayout) -> Path:
    relative = Path(kwargs.get("subfolder") or "", kwargs["file_name"])
    if is_local:
        return load_path / relative
    from huggingface_hub import hf_hub_download

    hub = {key: kwargs[key] for key in _HUB_KEYS if key in kwargs}
    for suffix in layout.companion_suffixes:
        hf_hub_download(load_path.as_posix(), relative.with_suffix(suffix).as_posix(), **hub)
    return Path(hf_hub_download(load_path.as_posix(), relative.as_posix(), **hub))


def _open(backend: str, config: PretrainedConfig, task: str, model_file: Path, runtime: dict[str, Any]) -> BackendModel:
    if backend == "onnx":
        from embedforge.backend.onnx_model import ONNXModel

        return ONNXModel(config, task, model_file, **runtime)
    from embedforge.backend.openvino_model import OpenVINOModel

    ov_config = runtime.pop("ov_config", None)
    if ov_config is not None and not isinstance(ov_config, dict):
        path = Path(ov_config)
        if not path.is_file():
            raise ValueError(f"ov_config must be a dict or the path of a JSON file; {str(path)!r} is neither.")
        ov_config = json.loads(path.read_text(encoding="utf-8"))
    return OpenVINOModel(config, task, model_file, ov_config=ov_config, **runtime)


def _auto_loader(task: str) -> TorchLoader:
    def load(name: str, kwargs: dict[str, Any]) -> PreTrainedModel:
        import transformers

        auto = (
            transformers.AutoModelForSequenceClassification
            if task == "sequence-classification"
            else transformers.AutoModel
        )
        return auto.from_pretrained(name, **kwargs)

    return load
