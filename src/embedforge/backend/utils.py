"""Where a backend's model file is, whether it must be exported first, and how exported files are stored.

The rules follow sentence-transformers 6.2's folder conventions: ONNX files live in ``<model>/onnx/`` (``model.onnx``,
``model_O3.onnx``, ``model_qint8_avx512_vnni.onnx``…), OpenVINO files in ``<model>/openvino/``
(``openvino_model.xml`` + ``.bin``, ``openvino_model_qint8_quantized.xml``…); ``model_kwargs["file_name"]`` picks one
(a folder part in it is a subfolder), and a model without the file is exported on load.
"""

from __future__ import annotations

import fnmatch
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embedforge.model.base import BaseModel

__all__ = ["_save_pretrained_wrapper", "backend_should_export", "backend_warn_to_save", "save_or_push_to_hub_model"]

logger = logging.getLogger(__name__)

_PR_TEMPLATE = """Hello!

This pull request adds an exported {backend} model (`{file_name}`), made with embedforge's `{function}`.

## Config
```python
{config}
```

## Testing this pull request
Load the model from this pull request with the `revision` argument:
```python
from {package} import {family}

pr_number = 2  # the number of this pull request
model = {family}(
    "{repo}",
    revision=f"refs/pr/{{pr_number}}",
    backend="{backend}",
    model_kwargs={{"file_name": "{file_name}"}},
)
```
"""


def _save_pretrained_wrapper(save_pretrained: Callable[..., Any], subfolder: str) -> Callable[..., None]:
    """Wrap a ``save_pretrained``-style function so that it writes into ``<save_directory>/<subfolder>``."""

    def wrapper(save_directory: str | Path, **kwargs: Any) -> None:
        target = Path(save_directory) / subfolder
        target.mkdir(parents=True, exist_ok=True)
        save_pretrained(target, **kwargs)

    return wrapper


def backend_should_export(
    load_path: Path,
    is_local: bool,
    model_kwargs: dict[str, Any],
    target_file_name: str,
    target_file_glob: str,
    backend_name: str,
) -> tuple[bool, dict[str, Any]]:
    """Decide whether the model must be exported, and point ``file_name``/``subfolder`` at the file to load.

    ``model_kwargs["export"]`` decides when given. Otherwise the file is looked up at ``<subfolder>/<file_name>``
    and then at ``<subfolder>/<backend>/<file_name>`` (``file_name`` defaults to ``target_file_name``); the model is
    exported when neither exists, with a warning that lists the backend files that do exist.

    Args:
        load_path: The model folder, or the Hub id as a path.
        is_local: Whether ``load_path`` is a local folder.
        model_kwargs: The caller's ``model_kwargs``; ``export`` is removed, ``file_name``/``subfolder`` set.
        target_file_name: The default file: ``"model.onnx"`` or ``"openvino_model.xml"``.
        target_file_glob: The backend's files: ``"*.onnx"`` or ``"openvino*.xml"``.
        backend_name: ``"ONNX"`` or ``"OpenVINO"`` (the folder is its lower-case form).

    Returns:
        ``(export, model_kwargs)``.
    """
    export = model_kwargs.pop("export", None)
    if export:
        return True, model_kwargs
    backend = backend_name.lower()
    file_name = model_kwargs.get("file_name", target_file_name)
    subfolder = model_kwargs.get("subfolder")
    primary = Path(subfolder or "", file_name).as_posix()
    secondary = Path(subfolder or "", backend, file_name).as_posix()
    pattern = f"{subfolder}/**/{target_file_glob}" if subfolder else f"**/{target_file_glob}"
    found = _backend_files(load_path, is_local, model_kwargs, pattern)
    model_found = primary in found
    if not model_found and secondary in found:
        model_found = True
        if len(found) > 1 and "file_name" not in model_kwargs:
            logger.warning(
                "Several %s files in %r: %s; loading %r. Choose one with model_kwargs={'file_name': ...}.",
                backend_name,
                load_path.as_posix(),
                found,
                secondary,
            )
        model_kwargs["subfolder"] = Path(subfolder or "", backend).as_posix()
        model_kwargs["file_name"] = file_name
    if export is None:
        export = not model_found
    parts = Path(model_kwargs.get("file_name", file_name)).parts
    if len(parts) > 1:
        model_kwargs["file_name"] = parts[-1]
        model_kwargs["subfolder"] = Path(model_kwargs.get("subfolder") or "", *parts[:-1]).as_posix()
    if export:
        logger.warning("No %r found in %r: exporting the model to %s.", file_name, load_path.as_posix(), backend_name)
        if found:
            logger.warning(
                "To load one of the %s files %s instead, pass model_kwargs={'file_name': %r}.",
                backend_name,
                found,
                found[0],
            )
    return bool(export), model_kwargs


def _backend_files(load_path: Path, is_local: bool, model_kwargs: dict[str, Any], pattern: str) -> list[str]:
    """The files under the model folder (or Hub repository) that match ``pattern``, as posix paths."""
    if is_local:
        return sorted(path.relative_to(load_path).as_posix() for path in load_path.glob(pattern))
    from huggingface_hub import list_repo_files

    names = list_repo_files(
        load_path.as_posix(), revision=model_kwargs.get("revision"), token=model_kwargs.get("token")
    )
    return sorted(name for name in names if fnmatch.fnmatch(name, pattern))


def backend_warn_to_save(model_name_or_path: str, is_local: bool, backend_name: str) -> None:
    """Recommend saving a freshly exported model so that the next load does not export it again."""
    how = (
        f"model.save_pretrained({model_name_or_path!r})"
        if is_local
        else f"model.push_to_hub({model_name_or_path!r}, create_pr=True)"
    )
    logger.warning("Save the exported %s model to skip exporting it again on the next load: %s.", backend_name, how)


def save_or_push_to_hub_model(
    export_function: Callable[[str], Any],
    export_function_name: str,
    config: Any,
    model_name_or_path: str,
    push_to_hub: bool = False,
    create_pr: bool = False,
    file_suffix: str | None = None,
    backend: str = "onnx",
    model: BaseModel | None = None,
) -> None:
    """Run ``export_function`` into a temporary folder and store its file in ``<model>/<backend>/`` or on the Hub.

    Args:
        export_function: Writes ``model_<suffix>.onnx`` (ONNX) or ``openvino/openvino_model.xml`` + ``.bin``
            (OpenVINO) into the folder it is given.
        export_function_name: The public function's name, for the pull-request description.
        config: The optimization or quantization config, shown in the pull-request description.
        model_name_or_path: The local model folder, or the Hub repository with ``push_to_hub``.
        push_to_hub: Upload to the Hub repository instead of writing to the local folder.
        create_pr: Open a pull request with the upload (with ``push_to_hub``).
        file_suffix: The file's suffix: ``model_<suffix>.onnx`` or ``openvino_model_<suffix>.xml``.
        backend: ``"onnx"`` or ``"openvino"``.
        model: The model being exported (names its family in the pull-request description).
    """
    file_name = f"model_{file_suffix}.onnx" if backend == "onnx" else f"openvino_model_{file_suffix}.xml"
    with tempfile.TemporaryDirectory() as scratch:
        export_function(scratch)
        staged = Path(scratch) / "staged" / backend
        staged.mkdir(parents=True)
        for source, target in _exported_files(Path(scratch), backend, file_name):
            shutil.move(str(source), str(staged / target))
        if push_to_hub:
            _upload(staged, export_function_name, config, model_name_or_path, create_pr, backend, file_name, model)
            return
        destination = Path(model_name_or_path) / backend
        destination.mkdir(parents=True, exist_ok=True)
        for path in staged.iterdir():
            shutil.copyfile(path, destination / path.name)
    logger.info("Saved %s to %s.", file_name, destination)


def _exported_files(scratch: Path, backend: str, file_name: str) -> list[tuple[Path, str]]:
    """The files an export wrote, each with the name it is stored under."""
    if backend == "onnx":
        source = scratch / file_name
        return [(source, file_name), *((path, path.name) for path in scratch.glob(f"{file_name}*data"))]
    folder = scratch / backend
    return [
        (folder / "openvino_model.xml", file_name),
        (folder / "openvino_model.bin", str(Path(file_name).with_suffix(".bin"))),
    ]


def _upload(
    folder: Path,
    function: str,
    config: Any,
    repo: str,
    create_pr: bool,
    backend: str,
    file_name: str,
    model: BaseModel | None,
) -> None:
    import huggingface_hub

    family = type(model).__name__ if model is not None else "SentenceTransformer"
    description = ""
    if create_pr:
        description = _PR_TEMPLATE.format(
            backend=backend,
            file_name=file_name,
            function=function,
            config=repr(config),
            package="embedforge",
            family=family,
            repo=repo,
        )
    huggingface_hub.upload_folder(
        folder_path=str(folder),
        path_in_repo=backend,
        repo_id=repo,
        repo_type="model",
        commit_message=f"Add exported {backend} model {file_name!r}",
        commit_description=description,
        create_pr=create_pr,
    )
