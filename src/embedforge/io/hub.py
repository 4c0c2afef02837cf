"""Find a model folder: a local path, or a Hugging Face Hub repository downloaded to the local cache."""

from __future__ import annotations

import os
from pathlib import Path

ST_ORGANIZATION = "sentence-transformers"


class ModelNotFoundError(OSError):
    """Neither a local folder nor a reachable Hub repository matches the requested model name."""


def _looks_local(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\")) or (os.sep != "/" and os.sep in name)


def resolve_model_folder(
    name_or_path: str | Path,
    *,
    cache_folder: str | None = None,
    revision: str | None = None,
    token: bool | str | None = None,
    local_files_only: bool = False,
) -> Path:
    """Return a local folder holding the model ``name_or_path``.

    A path that exists is returned as is. Otherwise the name is treated as a Hub repository id and the whole
    repository is downloaded into the Hugging Face cache (or found there, offline). A bare name such as
    ``all-MiniLM-L6-v2`` is tried as ``sentence-transformers/all-MiniLM-L6-v2`` first, as sentence-transformers
    does.

    Raises:
        ModelNotFoundError: With the local path tried, the Hub ids tried and why the Hub failed.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if path.exists() or _looks_local(name) or name.count("/") > 1:
        raise ModelNotFoundError(
            f"Expected a model folder or a Hugging Face Hub id, found {name!r}, which is not a folder. "
            "Check the path (a SentenceTransformer folder has a modules.json; a transformers checkpoint a "
            "config.json)."
        )
    candidates = [f"{ST_ORGANIZATION}/{name}", name] if "/" not in name else [name]
    errors: list[str] = []
    for repo_id in candidates:
        try:
            return _download(repo_id, cache_folder, revision, token, local_files_only)
        except (OSError, ValueError) as error:  # hub errors derive from these
            errors.append(f"{repo_id}: {type(error).__name__}: {str(error).splitlines()[0]}")
    offline = local_files_only or os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    hint = (
        "Offline mode is on (HF_HUB_OFFLINE or local_files_only), so only models already in the cache load."
        if offline
        else "The Hub could not serve it (no network, a private repository needing token=, or a typo)."
    )
    raise ModelNotFoundError(
        f"Could not load model {name!r}: no local folder of that name, and no Hub repository could be used "
        f"({'; '.join(errors)}). {hint} Fix: pass the path of a local model folder, or connect and retry."
    )


def _download(
    repo_id: str, cache_folder: str | None, revision: str | None, token: bool | str | None, local_files_only: bool
) -> Path:
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id,
        revision=revision,
        cache_dir=cache_folder,
        token=token,
        local_files_only=local_files_only,
        ignore_patterns=["*.onnx", "onnx/*", "openvino/*", "*.h5", "*.msgpack", "*.ot", "flax_model*", "tf_model*"],
    )
    return Path(folder)
