"""ModelCardCallback: records hyperparameters, training logs, evaluation results and timing for the model card."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from embedforge.model_card.data import BOOKKEEPING_METRICS

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from embedforge.model_card.data import SentenceTransformerModelCardData


class ModelCardCallback(TrainerCallback):
    """Fills a :class:`~embedforge.model_card.data.SentenceTransformerModelCardData` while the trainer runs.

    - ``on_train_begin``: records the training arguments and starts a timer.
    - ``on_log``: adds a row to the training-logs table: ``Epoch``, ``Step``, ``Training Loss``,
      ``Validation Loss`` (or ``<dataset> loss`` per evaluation dataset) and evaluation metrics; rows of the same
      step are merged.
    - ``on_evaluate``: keeps the latest evaluation results and adds up evaluation time.
    - ``on_train_end``: records the training time and marks the model as trained.

    Args:
        card_data: The card data to fill (usually ``model.model_card_data``).
        log_metrics: Evaluation metrics shown as columns of the training-logs table (with or without the
            ``eval_`` prefix), e.g. the evaluator's primary metric; None shows every evaluation metric.
            Losses are always shown.
    """

    def __init__(self, card_data: SentenceTransformerModelCardData, log_metrics: Collection[str] | None = None) -> None:
        super().__init__()
        self.card_data = card_data
        self.log_metrics = None if log_metrics is None else {name.removeprefix("eval_") for name in log_metrics}
        self._start: float | None = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Record the training arguments and start the training timer."""
        self.card_data.set_hyperparameters(args)
        self._start = time.perf_counter()

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Add the losses and evaluation metrics of ``logs`` to the training-logs table."""
        values = self._loggable(logs or {})
        if values:
            self.card_data.add_log({"Epoch": state.epoch, "Step": state.global_step, **values})

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Keep the evaluation results and add the evaluation's duration."""
        metrics = metrics or {}
        self.card_data.set_eval_metrics(metrics)
        runtime = metrics.get("eval_runtime")
        if isinstance(runtime, (int, float)):
            self.card_data.add_evaluation_time(float(runtime))

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Record the training time and mark the model as trained."""
        if self._start is not None:
            self.card_data.set_training_time(time.perf_counter() - self._start)
        self.card_data.mark_trained()

    def _loggable(self, logs: dict[str, float]) -> dict[str, float]:
        """Columns of the logs table from one ``on_log`` call: the training loss, validation losses, metrics."""
        values: dict[str, float] = {}
        if "loss" in logs:
            values["Training Loss"] = logs["loss"]
        for key, value in logs.items():
            if not key.startswith("eval_") or key.endswith(BOOKKEEPING_METRICS):
                continue
            name = key.removeprefix("eval_")
            if name == "loss":
                values["Validation Loss"] = value
            elif name.endswith("_loss"):
                values[name.removesuffix("_loss") + " loss"] = value
            elif self.log_metrics is None or name in self.log_metrics:
                values[name] = value
        return values
