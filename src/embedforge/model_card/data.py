"""SentenceTransformerModelCardData: what the model card knows, given by the user or collected in training.

The user sets the public fields (language, license, dataset names...). The trainer and
:class:`~embedforge.model_card.callback.ModelCardCallback` fill the rest through the ``set_*``/``add_*`` methods;
:func:`~embedforge.model_card.render.render_model_card` turns it all into ``README.md``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from embedforge.model_card.family import FamilyCard
from embedforge.model_card.sentence_transformer_card import SentenceTransformerCard
from embedforge.model_card.statistics import (
    DatasetSummary,
    LossSummary,
    all_losses,
    citations_for,
    summarize_dataset,
    summarize_loss,
)

if TYPE_CHECKING:
    from datasets import Dataset
    from torch import nn
    from transformers import TrainingArguments

logger = logging.getLogger(__name__)

DEFAULT_TASK_NAME = (
    "semantic textual similarity, semantic search, paraphrase mining, classification, clustering, and more"
)

IGNORED_HYPERPARAMETERS = frozenset(
    {
        "output_dir",
        "logging_dir",
        "run_name",
        "logging_strategy",
        "logging_first_step",
        "logging_steps",
        "evaluation_strategy",
        "eval_strategy",
        "eval_steps",
        "eval_delay",
        "save_strategy",
        "save_steps",
        "save_total_limit",
        "metric_for_best_model",
        "greater_is_better",
        "report_to",
        "show_progress_bar",
        "do_train",
        "do_eval",
        "do_test",
        "hub_token",
        "push_to_hub_token",
    }
)
"""Training arguments left out of the card: bookkeeping that does not change the model, and secrets."""

BOOKKEEPING_METRICS = ("runtime", "samples_per_second", "steps_per_second", "epoch")
"""Suffixes of logged values that are not evaluation results."""

_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
_HUB_CACHE_FOLDER = re.compile(r"^models--(?P<owner>[^/]+?)--(?P<name>[^/]+)$")


@dataclass
class SentenceTransformerModelCardData:
    """Data for the model card (``README.md``) written when a model is saved.

    Args:
        language: Language(s) of the model, e.g. ``"en"`` or ``["en", "de"]``.
        license: License, e.g. ``"apache-2.0"``.
        model_name: Readable model name; default: ``"SentenceTransformer based on <base model>"``.
        model_id: Hub id the model will be pushed to, ``"owner/name"``; used in the usage snippet.
        train_datasets: Names and Hub ids of the training datasets, one dict per dataset in training order,
            e.g. ``[{"name": "STSb", "id": "sentence-transformers/stsb", "revision": "..."}]``.
        eval_datasets: The same for the evaluation datasets.
        task_name: What the model is for, in words.
        tags: Extra Hub tags, added after the standard ones.
        local_files_only: Kept for sentence-transformers compatibility; the card never queries the Hub.
        generate_widget_examples: Use texts from the training data in the usage snippet and the Hub widget.

    Example:
        >>> card_data = SentenceTransformerModelCardData(language="en", license="apache-2.0")
        >>> card_data.trained
        False
    """

    family_card: ClassVar[FamilyCard] = SentenceTransformerCard()

    language: str | list[str] | None = None
    license: str | None = None
    model_name: str | None = None
    model_id: str | None = None
    train_datasets: list[dict[str, str]] = field(default_factory=list)
    eval_datasets: list[dict[str, str]] = field(default_factory=list)
    task_name: str = DEFAULT_TASK_NAME
    tags: list[str] | None = None
    local_files_only: bool = False
    generate_widget_examples: bool = True

    # Collected during training (not constructor arguments).
    base_model: str | None = field(default=None, init=False)
    base_model_revision: str | None = field(default=None, init=False)
    train_dataset_summaries: list[DatasetSummary] = field(default_factory=list, init=False)
    eval_dataset_summaries: list[DatasetSummary] = field(default_factory=list, init=False)
    losses: list[LossSummary] = field(default_factory=list, init=False)
    citations: dict[str, str] = field(default_factory=lambda: citations_for([]), init=False)
    all_hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    non_default_hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    training_logs: list[dict[str, Any]] = field(default_factory=list, init=False)
    eval_metrics: dict[str, float] = field(default_factory=dict, init=False)
    training_time: float | None = field(default=None, init=False)
    evaluation_time: float = field(default=0.0, init=False)
    co2_eq_emissions: dict[str, Any] | None = field(default=None, init=False)
    _trained: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.train_datasets = [_named(dataset) for dataset in self.train_datasets]
        self.eval_datasets = [_named(dataset) for dataset in self.eval_datasets]
        if self.model_id is not None and self.model_id.count("/") != 1:
            logger.warning(
                "model_id %r should be 'owner/name', e.g. 'my-org/my-model'; ignoring it in the model card.",
                self.model_id,
            )
            self.model_id = None

    # ------------------------------------------------------------- user-facing setters
    def set_language(self, language: str | list[str]) -> None:
        """Set the model's language(s)."""
        self.language = language

    def set_license(self, license: str) -> None:
        """Set the model's license."""
        self.license = license

    def set_model_id(self, model_id: str) -> None:
        """Set the Hub id shown in the usage snippet."""
        self.model_id = model_id

    def add_tags(self, tags: str | list[str]) -> None:
        """Add Hub tags (duplicates are ignored)."""
        current = self.tags if self.tags is not None else []
        for tag in [tags] if isinstance(tags, str) else tags:
            if tag not in current:
                current.append(tag)
        self.tags = current

    # ------------------------------------------------------------- filled by the trainer
    def set_training_data(
        self,
        train_datasets: Mapping[str, Dataset] | None,
        eval_datasets: Mapping[str, Dataset] | None,
        losses: Mapping[str, nn.Module],
        tokenize: Callable[[list[str]], dict[str, Any]] | None = None,
    ) -> None:
        """Describe the datasets and losses of a training run.

        Args:
            train_datasets: Training datasets by name (an empty name: an unnamed dataset). The user's
                ``train_datasets`` metadata, if it lists as many datasets, gives names and Hub ids in order.
            eval_datasets: Evaluation datasets by name, likewise.
            losses: Loss per dataset name; a single loss applies to every dataset.
            tokenize: Tokenizes a batch of texts (e.g. ``model.tokenize``) to count tokens; default: count words.
        """
        summaries = {name: summarize_loss(loss) for name, loss in losses.items()}
        self.train_dataset_summaries = self._summarize(train_datasets, self.train_datasets, summaries, tokenize)
        self.eval_dataset_summaries = self._summarize(eval_datasets, self.eval_datasets, summaries, tokenize)
        self.losses = [summarize_loss(loss) for loss in all_losses(losses.values())]
        self.citations = citations_for(self.losses)

    @staticmethod
    def _summarize(
        datasets: Mapping[str, Dataset] | None,
        metadata: list[dict[str, str]],
        losses: dict[str, LossSummary],
        tokenize: Callable[[list[str]], dict[str, Any]] | None,
    ) -> list[DatasetSummary]:
        """Summaries of ``datasets``, paired with the user's metadata when the counts match."""
        if not datasets:
            return []
        if metadata and len(metadata) != len(datasets):
            logger.warning(
                "The model card data lists %d datasets but training uses %d (%s); the listed names and ids are "
                "not used. Give one entry per dataset, in the same order.",
                len(metadata),
                len(datasets),
                ", ".join(repr(name) for name in datasets),
            )
            metadata = []
        entries = metadata or [{"name": name} for name in datasets]
        sole_loss = next(iter(losses.values())) if len(losses) == 1 else None
        return [
            summarize_dataset(dataset, entry, losses.get(name, sole_loss), tokenize)
            for (name, dataset), entry in zip(datasets.items(), entries, strict=True)
        ]

    def set_base_model(self, name_or_path: str | None) -> None:
        """Record the model training started from, if it is a Hugging Face Hub model.

        A Hub id (``"owner/name"`` or ``"name"``) or a Hub cache folder (``.../models--owner--name/snapshots/<sha>``)
        is kept; other local paths are not (they mean nothing to readers of the card).

        Args:
            name_or_path: The name or folder the base model was loaded from; None to clear it.
        """
        self.base_model, self.base_model_revision = _hub_model(name_or_path)

    def set_hyperparameters(self, args: TrainingArguments) -> None:
        """Record the training arguments, all of them and those that differ from their defaults.

        Defaults come from ``type(args)(output_dir=args.output_dir)``, sharing the configured accelerator state.
        Bookkeeping arguments
        (:data:`IGNORED_HYPERPARAMETERS`: output and logging folders, run name, save/eval schedule, tokens)
        are left out.

        Args:
            args: The trainer's arguments.
        """
        values = {key: value for key, value in args.to_dict().items() if key not in IGNORED_HYPERPARAMETERS}
        # Reuse the trainer's accelerator state: a fresh default would reset it mid-training.
        defaults = type(args)(output_dir=args.output_dir, accelerator_config={"use_configured_state": True}).to_dict()
        self.all_hyperparameters = values
        self.non_default_hyperparameters = {
            key: value for key, value in values.items() if key in defaults and value != defaults[key]
        }

    def add_log(self, row: dict[str, Any]) -> None:
        """Add a row to the training-logs table; a row with the same ``Step`` as the last one is merged into it.

        Args:
            row: E.g. ``{"Epoch": 0.5, "Step": 10, "Training Loss": 0.73}``.
        """
        last = self.training_logs[-1] if self.training_logs else None
        if last is not None and "Step" in row and last.get("Step") == row["Step"]:
            last.update(row)
        else:
            self.training_logs.append(dict(row))

    def set_eval_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record the latest evaluation results (shown in the card and its ``model-index``).

        The ``eval_`` prefix is dropped; losses, non-numbers and bookkeeping values (runtime, throughput, epoch)
        are left out.

        Args:
            metrics: E.g. ``{"eval_sts-dev_spearman_cosine": 0.81, "eval_runtime": 1.2}``.
        """
        self.eval_metrics = {
            key.removeprefix("eval_"): float(value)
            for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and _is_result(key)
        }

    def set_training_time(self, seconds: float) -> None:
        """Record how long training took in total (evaluation included)."""
        self.training_time = seconds

    def add_evaluation_time(self, seconds: float) -> None:
        """Add the duration of one evaluation during training."""
        self.evaluation_time += seconds

    def mark_trained(self) -> None:
        """Note that the model was trained (the card then gets its training sections)."""
        self._trained = True

    @property
    def trained(self) -> bool:
        """True once :meth:`mark_trained` was called."""
        return self._trained


def _named(dataset: dict[str, str]) -> dict[str, str]:
    """A copy of one dataset's metadata with ``name`` defaulting to its ``id``."""
    entry = dict(dataset)
    if not entry.get("name") and entry.get("id"):
        entry["name"] = entry["id"]
    return entry


def _is_result(key: str) -> bool:
    """True for evaluation results; False for losses and bookkeeping values."""
    return not key.endswith("loss") and not key.endswith(BOOKKEEPING_METRICS)


def _hub_model(name_or_path: str | None) -> tuple[str | None, str | None]:
    """``(hub id, revision)`` of a model name or folder, or ``(None, None)`` for other local paths."""
    if not name_or_path:
        return None, None
    path = Path(name_or_path)
    for snapshot in (path, *path.parents):
        match = _HUB_CACHE_FOLDER.match(snapshot.parent.parent.name) if snapshot.parent.name == "snapshots" else None
        if match:
            return f"{match['owner']}/{match['name']}", snapshot.name
    if _HUB_ID.match(str(name_or_path)) and not path.exists():
        return str(name_or_path), None
    return None, None
