"""Crash-safe checkpoints: written atomically, checked before a resume.

Writing (:func:`atomic_save`): transformers' ``Trainer._save_checkpoint`` writes model, optimizer, scheduler, RNG
states and ``trainer_state.json`` into a hidden staging folder (``.partial-checkpoint-<step>/checkpoint-<step>``);
the files are fsynced and the folder is renamed to ``checkpoint-<step>`` in one step. A process killed at any moment
leaves the complete checkpoint or none (a leftover staging folder is removed at the next save or resume). Old
checkpoints are rotated (``save_total_limit``) only after the new one is in place. A failed write (a full disk)
removes the staging folder and raises an error naming the checkpoint and the newest intact one.

Reading (:func:`resume_checkpoint`, :func:`newest_complete_checkpoint`): a checkpoint is checked against
:data:`LAYOUT` (the files a complete checkpoint holds) and each file for damage (safetensors header and length, JSON
syntax, torch archives' directory and CRCs) before anything loads. A partial or corrupt newest checkpoint is
skipped with a warning naming it; an explicitly named one is refused with a clear error.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.training.checkpoint_files import FILE_CHECKS

if TYPE_CHECKING:
    from transformers import Trainer, TrainingArguments

__all__ = ["LAYOUT", "CheckpointLayout", "atomic_save", "checkpoint_folders", "checkpoint_problems"]
__all__ += ["newest_complete_checkpoint", "remove_leftovers", "resume_checkpoint"]

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
"""Checkpoint folder names, as transformers matches them."""
STAGING_PREFIX = ".partial-checkpoint-"
"""Staging folder of a checkpoint being written (hidden: transformers' ``checkpoint-*`` globs skip it)."""
REPLACED_PREFIX = ".replaced-checkpoint-"
"""Where an existing folder of the same step waits while the new checkpoint takes its name."""
LEFTOVER_PATTERNS = (f"{STAGING_PREFIX}*", f"{REPLACED_PREFIX}*", ".checkpoint-*.saving-*")
"""Folders a killed save can leave behind in the run folder; removed at the next save or resume."""
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


@dataclass(frozen=True)
class CheckpointLayout:
    """What a complete checkpoint folder holds (glob patterns, relative to the folder).

    Attributes:
        required: Files every checkpoint holds.
        training_state: Groups of alternatives, one of each group present unless ``save_only_model`` (optimizer
            as transformers saves it alone, with DeepSpeed or FSDP; scheduler; RNG state of one or every rank).
        weights: At least one weights file, anywhere in the folder (module sub-folders included).
    """

    required: tuple[str, ...] = ("trainer_state.json", "modules.json", "training_args.bin")
    training_state: tuple[tuple[str, ...], ...] = (
        ("optimizer.pt", "optimizer.bin", "optimizer_*", "global_step*"),
        ("scheduler.pt",),
        ("rng_state.pth", "rng_state_*.pth"),
    )
    weights: tuple[str, ...] = ("**/*.safetensors", "**/pytorch_model.bin", "pytorch_model_fsdp*")


LAYOUT = CheckpointLayout()


# ------------------------------------------------------------------ checks
def checkpoint_problems(folder: str | os.PathLike[str], training_state: bool = True) -> list[str]:
    """Why ``folder`` is not a complete, readable checkpoint (an empty list when it is).

    Args:
        folder: A ``checkpoint-<step>`` folder.
        training_state: Require the optimizer, scheduler and RNG state (False for ``save_only_model``).

    Returns:
        One short sentence per problem, e.g. ``"model.safetensors: cut short (1176 bytes expected, 600 found)"``.
    """
    root = Path(folder)
    if not root.is_dir():
        return [f"{root} is not a folder"]
    problems = [f"{name} is missing" for name in LAYOUT.required if not (root / name).is_file()]
    groups = LAYOUT.training_state if training_state else ()
    problems += [f"{' or '.join(group)} is missing" for group in groups if not _any_match(root, group)]
    if not _any_match(root, LAYOUT.weights):
        problems.append("no weights file (model.safetensors or pytorch_model.bin) is present")
    problems += _module_folder_problems(root)
    for path in sorted(root.rglob("*")):
        check = FILE_CHECKS.get(path.suffix)
        if check is not None and path.is_file():
            problem = check(path)
            if problem is not None:
                problems.append(f"{path.relative_to(root).as_posix()}: {problem}")
    return problems


def _any_match(root: Path, patterns: tuple[str, ...]) -> bool:
    return any(next(iter(root.glob(pattern)), None) is not None for pattern in patterns)


def _module_folder_problems(root: Path) -> list[str]:
    """Module folders that ``modules.json`` lists but the checkpoint lacks."""
    try:
        entries = json.loads((root / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # reported as missing or unreadable by the other checks
    if not isinstance(entries, list):
        return ["modules.json: expected a list of modules"]
    paths = [entry.get("path", "") for entry in entries if isinstance(entry, dict)]
    return [
        f"module folder {path}/ (listed in modules.json) is missing" for path in paths if not (root / path).is_dir()
    ]


# --------------------------------------------------------------- choosing
def checkpoint_folders(output_dir: str | os.PathLike[str]) -> list[Path]:
    """The ``checkpoint-<step>`` folders in ``output_dir``, newest (highest step) first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    steps = {path: CHECKPOINT_PATTERN.match(path.name) for path in root.iterdir() if path.is_dir()}
    return sorted((path for path, match in steps.items() if match), key=_step, reverse=True)


def _step(folder: Path) -> int:
    match = CHECKPOINT_PATTERN.match(folder.name)
    return int(match.group(1)) if match else -1


def newest_complete_checkpoint(output_dir: str | os.PathLike[str], training_state: bool = True) -> str:
    """The newest complete checkpoint in ``output_dir``; newer partial or corrupt ones are skipped with a warning.

    Args:
        output_dir: The run folder holding ``checkpoint-<step>`` folders.
        training_state: Require the optimizer, scheduler and RNG state (see :func:`checkpoint_problems`).

    Returns:
        The checkpoint folder's path.

    Raises:
        ValueError: When ``output_dir`` holds no checkpoint, or no complete one (each folder's problems listed).
    """
    folders = checkpoint_folders(output_dir)
    if not folders:
        raise ValueError(
            f"No checkpoint-<step> folder in {str(output_dir)!r} to resume from. Train without resuming first, or "
            "point output_dir to the folder of the run to continue."
        )
    skipped: list[tuple[Path, list[str]]] = []
    for folder in folders:
        problems = checkpoint_problems(folder, training_state)
        if not problems:
            for bad, why in skipped:
                logger.warning(
                    "Skipping %s: the checkpoint is partial or corrupt (%s). Resuming from %s instead.",
                    bad,
                    "; ".join(why),
                    folder.name,
                )
            return str(folder)
        skipped.append((folder, problems))
    listing = "; ".join(f"{folder.name}: {', '.join(why)}" for folder, why in skipped)
    raise ValueError(
        f"No complete checkpoint in {str(output_dir)!r} to resume from ({listing}). Remove these folders and "
        "train again without resuming, or resume from a copy of an intact checkpoint."
    )


def resume_checkpoint(
    resume_from_checkpoint: str | os.PathLike[str] | bool | None, args: TrainingArguments
) -> str | None:
    """The checkpoint ``Trainer.train(resume_from_checkpoint=...)`` should load, checked before anything loads.

    ``True`` picks :func:`newest_complete_checkpoint` of ``args.output_dir``; a path must be a complete checkpoint.
    Leftover staging folders of ``args.output_dir`` are removed (by the process that saves).

    Args:
        resume_from_checkpoint: As ``transformers.Trainer.train`` takes it.
        args: The training arguments (``output_dir``, ``save_only_model``, ``should_save``).

    Returns:
        The checkpoint path, or None when not resuming.

    Raises:
        ValueError: The named checkpoint is partial or corrupt, or ``output_dir`` holds no complete one.
    """
    if resume_from_checkpoint is None or resume_from_checkpoint is False:
        return None
    if args.should_save:
        remove_leftovers(args.output_dir)
    training_state = not args.save_only_model
    if resume_from_checkpoint is True:
        return newest_complete_checkpoint(args.output_dir, training_state)
    problems = checkpoint_problems(resume_from_checkpoint, training_state)
    if problems:
        raise ValueError(
            f"Cannot resume from {str(resume_from_checkpoint)!r}: the checkpoint is partial or corrupt "
            f"({'; '.join(problems)}). Resume from an earlier checkpoint (resume_from_checkpoint=True picks the "
            "newest complete one in output_dir, skipping damaged ones), or train without resume_from_checkpoint."
        )
    return str(resume_from_checkpoint)


def remove_leftovers(output_dir: str | os.PathLike[str]) -> None:
    """Remove what killed saves left in ``output_dir`` (staging folders; never a ``checkpoint-<step>`` folder)."""
    root = Path(output_dir)
    for pattern in LEFTOVER_PATTERNS:
        for path in root.glob(pattern):
            logger.info("Removing %s, left by an interrupted checkpoint save.", path)
            shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- writing
@contextmanager
def atomic_save(trainer: Trainer, trial: Any) -> Iterator[Path]:
    """Around ``Trainer._save_checkpoint``: yield a staging run folder, then publish its checkpoint atomically.

    The trainer must write into the yielded folder (its ``_get_output_dir`` returns it meanwhile). Every process
    writes its files (RNG states) before the saving process fsyncs the staged checkpoint, renames it into place,
    fixes ``best_model_checkpoint`` to the final path and rotates old checkpoints (``save_total_limit``).

    Args:
        trainer: The trainer saving (``state.global_step`` names the checkpoint).
        trial: The hyperparameter-search trial (it names the run folder), or None.

    Yields:
        The staging folder to use as the run folder.

    Raises:
        OSError: A write failed (e.g. a full disk): the message names the checkpoint, says the staged files were
            removed and names the newest intact checkpoint.
    """
    from safetensors import SafetensorError

    run_dir = Path(trainer._get_output_dir(trial))
    final = run_dir / f"checkpoint-{trainer.state.global_step}"
    staging = run_dir / f"{STAGING_PREFIX}{trainer.state.global_step}"
    writer = trainer.args.should_save
    if writer:
        remove_leftovers(run_dir)
        staging.mkdir(parents=True)
    trainer.accelerator.wait_for_everyone()
    published = False
    try:
        yield staging
        trainer.accelerator.wait_for_everyone()
        _point_best_to_final(trainer, staging / final.name, final)
        if writer:
            _publish(staging / final.name, final)
        published = True
    except OSError as error:
        raise _save_error(error, final) from error
    except (RuntimeError, SafetensorError) as error:  # how torch's and safetensors' writers report I/O errors
        error.add_note(f"While saving {final.name} ({_free_space(run_dir)}). {_intact_note(final)}")
        raise
    finally:
        if writer and not published:
            shutil.rmtree(staging, ignore_errors=True)
    if writer:
        _rotate(trainer, run_dir, final)
    trainer.accelerator.wait_for_everyone()


def _point_best_to_final(trainer: Trainer, staged: Path, final: Path) -> None:
    """Transformers recorded the staged path as the best checkpoint when this one is best: record the final one."""
    best = trainer.state.best_model_checkpoint
    if best is None or Path(best) != staged:
        return
    trainer.state.best_model_checkpoint = str(final)
    state_file = staged / "trainer_state.json"
    if trainer.args.should_save and state_file.is_file():
        trainer.state.save_to_json(str(state_file))


def _publish(staged: Path, final: Path) -> None:
    """Flush ``staged`` to disk and rename it to ``final`` (an existing folder of that name is replaced)."""
    if not staged.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"the checkpoint was not written to {staged}", str(staged))
    for path in sorted(staged.rglob("*"), reverse=True):  # files before their folders
        _fsync(path)
    _fsync(staged)
    replaced = final.with_name(f"{REPLACED_PREFIX}{final.name.rsplit('-', 1)[-1]}")
    if final.exists():
        logger.warning("Replacing the existing %s with the new checkpoint of the same step.", final)
        final.rename(replaced)
    staged.rename(final)
    _fsync(final.parent)
    shutil.rmtree(replaced, ignore_errors=True)
    staged.parent.rmdir()


def _fsync(path: Path) -> None:
    """Flush a file's (or, on POSIX, a folder's entries') data to the disk."""
    if path.is_dir() and os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _rotate(trainer: Trainer, run_dir: Path, final: Path) -> None:
    """Apply ``save_total_limit`` now that ``final`` is complete; never while a newer-step folder is left over."""
    from transformers.trainer_utils import rotate_checkpoints

    newer = [folder.name for folder in checkpoint_folders(run_dir) if _step(folder) > _step(final)]
    if newer and trainer.args.save_total_limit:
        logger.warning(
            "Not deleting old checkpoints (save_total_limit): %s in %s is newer than the new %s (left by an "
            "interrupted run). Delete it once it is not needed to re-enable the limit.",
            ", ".join(newer),
            run_dir,
            final.name,
        )
        return
    rotate_checkpoints(
        output_dir=str(run_dir),
        save_total_limit=trainer.args.save_total_limit,
        best_model_checkpoint=trainer.state.best_model_checkpoint,
        use_mtime=True,
    )


def _intact_note(final: Path) -> str:
    earlier = [folder.name for folder in checkpoint_folders(final.parent) if folder != final]
    newest = f"the newest is {earlier[0]}" if earlier else "there is no earlier checkpoint"
    return f"Its partial files were removed; the earlier checkpoints in {final.parent} are intact ({newest})."


def _free_space(folder: Path) -> str:
    return f"{shutil.disk_usage(folder).free / 2**20:.0f} MiB free on the disk of {folder}"


def _save_error(error: OSError, final: Path) -> OSError:
    """A clear error for a failed checkpoint write (same errno, so the right ``OSError`` subclass)."""
    cause = "the disk is full" if error.errno in DISK_FULL else f"a write failed ({error.strerror or error})"
    where = f" ({error.filename})" if error.filename else ""
    return OSError(
        error.errno,
        f"Checkpoint {final.name} could not be saved: {cause}{where}; {_free_space(final.parent)}. "
        f"{_intact_note(final)} Free disk space (or "
        "lower save_total_limit, or move output_dir to a larger disk), then resume with "
        "resume_from_checkpoint=True (`embedforge train ... --resume`).",
    )
