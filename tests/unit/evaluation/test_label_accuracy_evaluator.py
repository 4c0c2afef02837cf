"""LabelAccuracyEvaluator against sentence-transformers 6.2: a SoftmaxLoss classifier (same seeded weights in both
libraries) over all-MiniLM-L6-v2 embeddings of real SNLI pairs, plus an independent accuracy computation."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import pytest
import torch
from evaluation_helpers import assert_csv_match, assert_metrics_match
from torch.utils.data import DataLoader

from embedforge.evaluation.label_accuracy import LabelAccuracyEvaluator, collate_examples
from embedforge.losses import SoftmaxLoss
from embedforge.readers import InputExample

NLI_PAIRS = 24
"""Rows of nli/pair-class/test.csv.gz (premise, hypothesis, label 0/1/2)."""
SEED = 12
DIM = 384


@pytest.fixture(scope="module")
def nli_examples(shared_data: Path) -> list[InputExample]:
    with gzip.open(shared_data / "nli" / "pair-class" / "test.csv.gz", "rt", newline="", encoding="utf-8") as handle:
        rows = [row for _, row in zip(range(NLI_PAIRS), csv.DictReader(handle), strict=False)]
    return [InputExample(texts=[row["premise"], row["hypothesis"]], label=int(row["label"])) for row in rows]


def _seeded(build: Any) -> Any:
    """Build a loss with a freshly initialised classifier from a fixed seed, leaving the global RNG as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        return build()


@pytest.fixture(scope="module")
def our_loss(our_model: Any) -> SoftmaxLoss:
    return _seeded(lambda: SoftmaxLoss(our_model, DIM, num_labels=3))


@pytest.fixture(scope="module")
def st_loss(st_model: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import SoftmaxLoss as STSoftmaxLoss

    return _seeded(lambda: STSoftmaxLoss(st_model, DIM, num_labels=3))


def test_both_libraries_start_from_the_same_classifier(our_loss: SoftmaxLoss, st_loss: Any) -> None:
    assert torch.equal(our_loss.classifier.weight, st_loss.classifier.weight)
    assert torch.equal(our_loss.classifier.bias, st_loss.classifier.bias)


def test_matches_sentence_transformers(
    nli_examples: list[InputExample],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
    our_loss: SoftmaxLoss,
    st_loss: Any,
) -> None:
    ours = LabelAccuracyEvaluator(DataLoader(nli_examples, batch_size=16), name="nli-test", softmax_model=our_loss)
    theirs = st_evaluation.LabelAccuracyEvaluator(DataLoader(nli_examples, batch_size=16), "nli-test", st_loss)
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=2, steps=5)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=2, steps=5)
    assert list(our_metrics) == ["nli-test_accuracy"]
    assert_metrics_match(our_metrics, their_metrics, atol=0)  # a count ratio: equal or not
    assert ours.primary_metric == theirs.primary_metric
    assert ours.greater_is_better is theirs.greater_is_better is True
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict() == {}
    assert ours.description == theirs.description == "Label Accuracy"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_accuracy_equals_an_independent_computation(
    nli_examples: list[InputExample], our_model: Any, our_loss: SoftmaxLoss
) -> None:
    """Embed premises and hypotheses with encode, apply the classifier to [u; v; |u - v|] by hand, count hits."""
    nli_examples = nli_examples[:12]
    metrics = LabelAccuracyEvaluator(DataLoader(nli_examples, batch_size=5), softmax_model=our_loss)(our_model)
    u = our_model.encode([e.texts[0] for e in nli_examples], convert_to_tensor=True, batch_size=16)
    v = our_model.encode([e.texts[1] for e in nli_examples], convert_to_tensor=True, batch_size=16)
    with torch.no_grad():
        logits = our_loss.classifier(torch.cat([u, v, (u - v).abs()], dim=1))
    labels = torch.tensor([e.label for e in nli_examples])
    assert list(metrics) == ["accuracy"]
    assert metrics["accuracy"] == (logits.argmax(dim=1) == labels).sum().item() / len(nli_examples)


@pytest.mark.parametrize("name", ["", "dev"])
def test_names_of_metric_and_csv_file_match_sentence_transformers(
    name: str, our_loss: SoftmaxLoss, st_evaluation: Any
) -> None:
    loader = DataLoader([InputExample(texts=["a", "b"], label=0)])
    ours = LabelAccuracyEvaluator(loader, name, our_loss)
    theirs = st_evaluation.LabelAccuracyEvaluator(loader, name, our_loss)
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers == ["epoch", "steps", "accuracy"]
    assert ours.prefix_name_to_metrics({"accuracy": 1}, name) == theirs.prefix_name_to_metrics({"accuracy": 1}, name)
    assert ours.primary_metric == theirs.primary_metric


def test_loader_collate_fn_and_train_modes_are_restored(
    nli_examples: list[InputExample], our_model: Any, our_loss: SoftmaxLoss
) -> None:
    loader = DataLoader(nli_examples[:4], batch_size=3)
    original_collate = loader.collate_fn
    evaluator = LabelAccuracyEvaluator(loader, softmax_model=our_loss)
    model_mode = our_model.training
    try:
        our_loss.train()
        evaluator(our_model)
        assert our_loss.training and our_model.training and our_loss.classifier.training
    finally:
        our_loss.train(model_mode)
    assert loader.collate_fn is original_collate


def test_collate_tokenizes_each_text_column(our_model: Any) -> None:
    batch = [InputExample(texts=["a b c", "d"], label=1), InputExample(texts=["e", "f g"], label=2)]
    features, labels = collate_examples(our_model, batch)
    assert len(features) == 2
    assert torch.equal(features[0]["input_ids"], our_model.tokenize(["a b c", "e"])["input_ids"])
    assert torch.equal(features[1]["input_ids"], our_model.tokenize(["d", "f g"])["input_ids"])
    assert torch.equal(labels, torch.tensor([1, 2]))


def test_clear_errors(our_loss: SoftmaxLoss, our_model: Any) -> None:
    examples = [InputExample(texts=["a", "b"], label=0)]
    with pytest.raises(TypeError, match=r"^LabelAccuracyEvaluator: `dataloader` must be a torch.utils.data.DataLoader"):
        LabelAccuracyEvaluator(examples, softmax_model=our_loss)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^LabelAccuracyEvaluator: `softmax_model` is required"):
        LabelAccuracyEvaluator(DataLoader(examples))
    with pytest.raises(TypeError, match=r"^LabelAccuracyEvaluator: `softmax_model` must be a torch module"):
        LabelAccuracyEvaluator(DataLoader(examples), softmax_model=lambda features, labels: None)
    wrong_items = LabelAccuracyEvaluator(DataLoader([{"premise": "a", "label": 0}]), softmax_model=our_loss)
    with pytest.raises(TypeError, match=r"`dataloader` must yield InputExample objects with texts.*found dict"):
        wrong_items(our_model)
    empty = LabelAccuracyEvaluator(DataLoader([]), softmax_model=our_loss)
    with pytest.raises(ValueError, match=r"`dataloader` yielded no examples"):
        empty(our_model)
