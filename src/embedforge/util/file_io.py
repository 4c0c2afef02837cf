"""Finding model files locally or on the Hugging Face Hub, and plain HTTP downloads.

At the path sentence-transformers names ``util.file_io``. ``huggingface_hub`` and its HTTP client are imported
only when a function needs them. A local path always wins; the Hub is asked only when ``model_name_or_path`` is
not an existing local folder. Only unambiguous "not there" answers become ``None``: authentication, rate-limit and
network errors propagate, so that a flaky Hub is never mistaken for a missing file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PureWindowsPath
from typing import Any

from tqdm import tqdm

__all__ = ["disabled_tqdm", "http_get", "is_sentence_transformer_model", "load_dir_path", "load_file_path"]

logger = logging.getLogger(__name__)

_LIBRARY_NAME = "sentence-transformers"


class disabled_tqdm(tqdm):
    """A ``tqdm`` that is always disabled, for APIs that take a progress-bar class (e.g. ``snapshot_download``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)

    def __delattr__(self, attr: str) -> None:
        """Delete an attribute, ignoring the missing ``_lock`` that a disabled bar never created."""
        try:
            super().__delattr__(attr)
        except AttributeError:
            if attr != "_lock":
                raise


def _check_relative(path: str | Path) -> None:
    """Reject paths that could leave the model folder.

    Raises:
        ValueError: If ``path`` is not a str/Path, is rooted (POSIX or Windows), contains ``..`` or a NUL byte.
    """
    if not isinstance(path, (str, Path)):
        raise ValueError(f"Invalid model path {path!r}: expected a relative path (str or Path).")
    windows_path = PureWindowsPath(path)
    if windows_path.anchor or ".." in windows_path.parts or "\0" in str(path):
        raise ValueError(f"Invalid model path {str(path)!r}: expected a relative path without '..' components.")


def is_sentence_transformer_model(
    model_name_or_path: str,
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> bool:
    """Whether a local folder or Hub repository is in sentence-transformers format (has a ``modules.json``).

    Args:
        model_name_or_path: Local folder or Hub repository id.
        token: Hugging Face Hub token.
        cache_folder: Hugging Face Hub cache folder.
        revision: Hub revision.
        local_files_only: Use local and cached files only.

    Returns:
        True if ``modules.json`` exists there.

    Raises:
        huggingface_hub.errors.HfHubHTTPError: For Hub errors other than "file not found" (auth, rate limit...).
    """
    path = load_file_path(
        model_name_or_path,
        "modules.json",
        token=token,
        cache_folder=cache_folder,
        revision=revision,
        local_files_only=local_files_only,
    )
    return bool(path)


def load_file_path(
    model_name_or_path: str,
    filename: str | Path,
    subfolder: str = "",
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> str | None:
    """The local path of a model file, downloading it from the Hub if ``model_name_or_path`` is not a folder.

    Args:
        model_name_or_path: Local folder or Hub repository id.
        filename: The file, relative to ``subfolder``.
        subfolder: A folder inside the model, e.g. ``"1_Pooling"``.
        token: Hugging Face Hub token.
        cache_folder: Hugging Face Hub cache folder.
        revision: Hub revision.
        local_files_only: Use local and cached files only.

    Returns:
        The file's path, or None when a local folder lacks it or the Hub confirms it is absent (or the name is
        not a valid repository id).

    Raises:
        ValueError: If ``subfolder`` or ``filename`` is rooted or contains ``..``.
    """
    _check_relative(subfolder)
    _check_relative(filename)
    local = Path(model_name_or_path, subfolder, filename)
    if local.exists():
        return str(local)
    if Path(model_name_or_path).is_dir():
        return None

    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError, LocalEntryNotFoundError

    remote = Path(subfolder, filename)
    try:
        return hf_hub_download(
            model_name_or_path,
            filename=remote.name,
            subfolder=remote.parent.as_posix(),
            revision=revision,
            library_name=_LIBRARY_NAME,
            token=token,
            cache_dir=cache_folder,
            local_files_only=local_files_only,
        )
    except (EntryNotFoundError, HFValidationError, LocalEntryNotFoundError) as error:
        logger.debug(f"Could not load {str(filename)!r} from {model_name_or_path!r}: {error}")
        return None


def _snapshot_with_cache_fallback(download_kwargs: dict[str, Any], subfolder: str, wanted: bool) -> str | None:
    """Download a snapshot; on a transient error retry from the cache, re-raising the first error on a miss.

    Returns:
        The snapshot folder, or None for an invalid repository id or a local-only cache miss.

    Raises:
        OSError: If the snapshot came back without the requested subfolder.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HFValidationError,
        HTTPError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
    )

    try:
        repo_path = snapshot_download(**download_kwargs)
    except IncompleteSnapshotError:
        raise
    except (HFValidationError, LocalEntryNotFoundError) as error:
        logger.debug(f"Could not load subfolder {subfolder!r} from {download_kwargs['repo_id']!r}: {error}")
        return None
    except (OSError, HTTPError) as first_error:  # transient: auth, rate limit, network
        try:
            repo_path = snapshot_download(**{**download_kwargs, "local_files_only": True})
        except LocalEntryNotFoundError:
            raise first_error from None
        if wanted and not Path(repo_path, subfolder).is_dir():
            raise first_error from None
        return repo_path
    if wanted and not Path(repo_path, subfolder).is_dir():
        raise OSError(
            f"Could not download {subfolder!r} of {download_kwargs['repo_id']!r} from the Hub, and the local "
            "cache does not contain it. Check your connection and the repository contents, then retry."
        )
    return repo_path


def load_dir_path(
    model_name_or_path: str,
    subfolder: str,
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> str | None:
    """The local path of a model subfolder, downloading it from the Hub if ``model_name_or_path`` is not a folder.

    Args:
        model_name_or_path: Local folder or Hub repository id.
        subfolder: The folder inside the model; ``""`` or ``"."`` means the whole model.
        token: Hugging Face Hub token.
        cache_folder: Hugging Face Hub cache folder.
        revision: Hub revision.
        local_files_only: Use local and cached files only.

    Returns:
        The folder's path, or None when a local model folder lacks it, the repository id is invalid, or it is not
        cached under ``local_files_only``.

    Raises:
        ValueError: If ``subfolder`` is rooted or contains ``..``.
        OSError: If the Hub fails and the cache does not hold the folder (the Hub's error is re-raised).
    """
    _check_relative(subfolder)
    subfolder = Path(subfolder).as_posix() if isinstance(subfolder, Path) else subfolder
    local = Path(model_name_or_path, subfolder)
    if local.exists():
        return str(local)
    if Path(model_name_or_path).is_dir():
        return None
    wanted = subfolder not in ("", ".")
    download_kwargs = {
        "repo_id": model_name_or_path,
        "revision": revision,
        "allow_patterns": f"{subfolder}/**" if wanted else None,
        "library_name": _LIBRARY_NAME,
        "token": token,
        "cache_dir": cache_folder,
        "local_files_only": local_files_only,
        "tqdm_class": disabled_tqdm,
    }
    repo_path = _snapshot_with_cache_fallback(download_kwargs, subfolder, wanted)
    return None if repo_path is None else str(Path(repo_path, subfolder))


def _http_client() -> Any:
    """The HTTP client module of huggingface_hub (``httpx`` or its successor), else ``httpx`` itself."""
    try:
        from huggingface_hub.utils import httpx
    except ImportError:
        import httpx
    return httpx


def http_get(url: str, path: str) -> None:
    """Download ``url`` to the file ``path``, with a progress bar.

    The body is streamed to ``<path>_part``, which replaces ``path`` only once the download is complete (and is
    removed on failure). Missing parent folders are created.

    Args:
        url: The HTTP(S) URL; redirects are followed.
        path: The destination file.

    Raises:
        httpx.HTTPStatusError: If the server answers with an error status.
        OSError: If the file cannot be written.
    """
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    partial_path = path + "_part"
    with _http_client().stream("GET", url, follow_redirects=True) as response:
        response.raise_for_status()
        length = response.headers.get("Content-Length")
        progress = tqdm(
            unit="B",
            total=int(length) if length is not None else None,
            unit_scale=True,
            leave=False,
            desc=f"Downloading {os.path.basename(path)}",
        )
        try:
            with open(partial_path, "wb") as file:
                for chunk in response.iter_bytes(chunk_size=1024):
                    progress.update(len(chunk))
                    file.write(chunk)
            os.replace(partial_path, path)
        except BaseException:
            if os.path.exists(partial_path):
                os.remove(partial_path)
            raise
        finally:
            progress.close()
