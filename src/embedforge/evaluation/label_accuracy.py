"""LabelAccuracyEvaluator: accuracy of a SoftmaxLoss classifier on labelled sentence pairs."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.readers.input_example import InputExample
from embedforge.util.tensors import batch_to_device

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["LabelAccuracyEvaluator"]


class LabelAccuracyEvaluator(SentenceEvaluator):
    """Share of examples whose label is the class a softmax classifier over the model's embeddings predicts.

    The evaluator reads the ``dataloader`` of :class:`~embedforge.readers.InputExample` objects (e.g.
    ``texts=[premise, hypothesis]``, ``label=class id``) one pass; each batch is tokenized column by column (as
    sentence-transformers' ``smart_batching_collate``), and ``softmax_model`` called with ``labels=None`` returns
    ``(embeddings, logits)`` of which the arg-max class is the prediction. The loader's own ``collate_fn`` is
    restored afterwards, and the model and classifier get back their train/eval mode.

    Metrics, for ``name="nli-dev"``: ``nli-dev_accuracy`` (primary). Keys and values match sentence-transformers
    6.2.

    Args:
        dataloader: A torch DataLoader over InputExamples with class-id labels.
        name: Dataset name, prefixed to the metric key and added to the CSV file name.
        softmax_model: The classifier, e.g. the :class:`~embedforge.losses.SoftmaxLoss` trained with the model:
            called as ``softmax_model(features, labels=None)`` it returns ``(embeddings, logits)`` with
            ``logits`` of shape ``(batch, num_labels)``.
        write_csv: Append the results to ``accuracy_evaluation[_<name>]_results.csv`` in the call's
            ``output_path``.

    Example:
        >>> from torch.utils.data import DataLoader
        >>> from embedforge.losses import SoftmaxLoss
        >>> examples = [
        ...     InputExample(texts=["A man eats.", "Someone eats."], label=0),
        ...     InputExample(texts=["A man eats.", "Nobody eats."], label=2),
        ... ]
        >>> loss = SoftmaxLoss(model, model.get_sentence_embedding_dimension(), num_labels=3)  # doctest: +SKIP
        >>> evaluator = LabelAccuracyEvaluator(DataLoader(examples, batch_size=16), "nli-dev", loss)  # doctest: +SKIP
        >>> evaluator(model)  # doctest: +SKIP
        {'nli-dev_accuracy': 0.5}
    """

    config_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        dataloader: DataLoader,
        name: str = "",
        softmax_model: nn.Module | None = None,
        write_csv: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(dataloader, DataLoader):
            raise TypeError(
                f"{owner}: `dataloader` must be a torch.utils.data.DataLoader over InputExamples, found "
                f"{type(dataloader).__name__}. Wrap the examples: DataLoader(examples, batch_size=16)."
            )
        if softmax_model is None:
            raise ValueError(
                f"{owner}: `softmax_model` is required; pass the SoftmaxLoss trained with the model (its "
                "classifier predicts the labels), e.g. LabelAccuracyEvaluator(loader, softmax_model=train_loss)."
            )
        if not isinstance(softmax_model, nn.Module):
            raise TypeError(
                f"{owner}: `softmax_model` must be a torch module such as SoftmaxLoss, found "
                f"{type(softmax_model).__name__}. Pass the SoftmaxLoss trained with the model."
            )
        self.dataloader = dataloader
        self.name = name
        self.softmax_model = softmax_model
        self.write_csv = write_csv
        self.csv_file = f"accuracy_evaluation{reporting.name_suffix(name)}_results.csv"
        self.csv_headers = ["epoch", "steps", "accuracy"]
        self.primary_metric = reporting.prefixed(name, "accuracy")

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Classify every example of the loader and measure the accuracy.

        Args:
            model: The model whose embeddings the classifier reads (the one inside ``softmax_model``).
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            ``{"<name>_accuracy": accuracy}``.

        Raises:
            ValueError: If the loader yields no examples.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps)
        correct, total = self.count_correct(model)
        if total == 0:
            raise ValueError(
                f"{type(self).__name__}: `dataloader` yielded no examples, so there is no accuracy to measure. "
                "Pass a DataLoader over at least one InputExample."
            )
        accuracy = correct / total
        reporting.log_metrics([f"Accuracy: {accuracy:.4f} ({correct}/{total})\n"])
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, accuracy])
        return self.publish_metrics(model, {"accuracy": accuracy}, epoch, steps)

    def count_correct(self, model: EmbeddingModel) -> tuple[int, int]:
        """Run the classifier over one pass of the loader, without gradients and in eval mode.

        Args:
            model: The evaluated model (tokenizes the texts; its device receives the batches).

        Returns:
            ``(correct predictions, examples)``.
        """
        correct = total = 0
        collate = functools.partial(collate_examples, model, owner=type(self).__name__)
        with _eval_mode(model, self.softmax_model), _collate_fn(self.dataloader, collate), torch.no_grad():
            for columns, labels in self.dataloader:
                features = [batch_to_device(column, model.device) for column in columns]
                _, logits = self.softmax_model(features, labels=None)
                total += logits.size(0)
                correct += int(torch.argmax(logits, dim=1).eq(labels.to(logits.device)).sum().item())
        return correct, total


def collate_examples(
    model: EmbeddingModel, batch: Sequence[InputExample], owner: str = "LabelAccuracyEvaluator"
) -> tuple[list[Features], Tensor]:
    """Tokenize a batch of InputExamples column by column (sentence-transformers' ``smart_batching_collate``).

    Args:
        model: Tokenizes each text column with ``model.preprocess``.
        batch: Examples with the same number of texts each.
        owner: Class name for the error message.

    Returns:
        One feature dict per text column (``input_ids`` ``(batch, seq)``, ...), and the labels: ``(batch,)``
        (or ``(batch, k)`` for array labels).

    Raises:
        TypeError: If an item of the batch is not an InputExample with texts.
    """
    bad = next((item for item in batch if not isinstance(item, InputExample) or not item.texts), None)
    if bad is not None:
        raise TypeError(
            f"{owner}: `dataloader` must yield InputExample objects with texts (e.g. InputExample(texts=[premise, "
            f"hypothesis], label=0)), found {type(bad).__name__} {str(bad)[:80]!r}. Build the DataLoader over "
            "InputExamples."
        )
    columns = zip(*(example.texts or [] for example in batch), strict=False)
    features = [model.preprocess(list(texts)) for texts in columns]
    labels = [example.label for example in batch]
    if labels and isinstance(labels[0], np.ndarray):
        return features, torch.from_numpy(np.stack(labels))
    return features, torch.tensor(labels)


@contextmanager
def _collate_fn(loader: DataLoader, collate: Any) -> Iterator[None]:
    """Use ``collate`` as the loader's ``collate_fn`` inside the block, then put the original back."""
    original = loader.collate_fn
    loader.collate_fn = collate
    try:
        yield
    finally:
        loader.collate_fn = original


@contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode inside the block, then give each its former train/eval mode back."""
    modes = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, training in reversed(list(zip(modules, modes, strict=True))):
            module.train(training)
