"""Upload a model to the Hugging Face Hub (needs network access and a token)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedforge.model.base import BaseModel


def push_to_hub(
    model: BaseModel,
    repo_id: str,
    token: str | None = None,
    private: bool | None = None,
    safe_serialization: bool = True,
    commit_message: str | None = None,
    local_model_path: str | None = None,
    exist_ok: bool = False,
    replace_model_card: bool = False,
    train_datasets: list[str] | None = None,
    revision: str | None = None,
    create_pr: bool = False,
) -> str:
    """Create (or reuse) the Hub repository ``repo_id`` and upload the saved model folder to it.

    Args:
        model: The model to upload.
        repo_id: ``"user/name"`` or ``"org/name"``.
        token: Hub token (default: the logged-in one).
        private: Create the repository as private.
        safe_serialization: Upload safetensors weights.
        commit_message: Commit message; default "Add new <ModelClass> model" (e.g. CrossEncoder).
        local_model_path: Upload this already-saved folder instead of saving ``model``.
        exist_ok: Accept an existing repository.
        replace_model_card: Upload README.md even if the repository already has one.
        train_datasets: Dataset names for the model card.
        revision: Branch to push to (created if missing).
        create_pr: Open a pull request instead of committing directly.

    Returns:
        The URL of the commit (or pull request).
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    repo_url = api.create_repo(repo_id=repo_id, private=private, repo_type="model", exist_ok=exist_ok or create_pr)
    repo_id = repo_url.repo_id
    if revision is not None:
        api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True)
    message = commit_message or f"Add new {type(model).__name__} model"
    with tempfile.TemporaryDirectory() as staging:
        folder = Path(local_model_path) if local_model_path else Path(staging)
        if local_model_path is None:
            model.save(folder, train_datasets=train_datasets, safe_serialization=safe_serialization)
        keep_card = replace_model_card or not api.file_exists(repo_id, "README.md", revision=revision)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            commit_message=message,
            revision=revision,
            create_pr=create_pr,
            ignore_patterns=None if keep_card else ["README.md"],
        )
    return commit.pr_url if create_pr and commit.pr_url else commit.commit_url
