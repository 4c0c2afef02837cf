"""Multi-dataset training: every batch from one dataset, PROPORTIONAL uses every sample, per-dataset losses."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.losses import CoSENTLoss, CosineSimilarityLoss, MultipleNegativesRankingLoss, SoftmaxLoss
from embedforge.training_args import MultiDatasetBatchSamplers
from helpers import read_csv


@pytest.fixture
def setup(
    tiny_model: SentenceTransformer, stsb_pairs: Dataset, caption_pairs: Dataset, nli_pairs: Dataset, shared_data: Path
) -> tuple[dict[str, Dataset], dict]:
    rows = read_csv(shared_data / "mrpc" / "train.csv", 24)
    mrpc = Dataset.from_dict(
        {
            "sentence1": [r["sentence1"] for r in rows],
            "sentence2": [r["sentence2"] for r in rows],
            "label": [float(r["label"]) for r in rows],
        }
    )
    datasets = {"stsb": stsb_pairs, "captions": caption_pairs, "nli": nli_pairs, "mrpc": mrpc}
    losses = {
        "stsb": CoSENTLoss(tiny_model),
        "captions": MultipleNegativesRankingLoss(tiny_model),
        "nli": SoftmaxLoss(tiny_model, embedding_dimension=32, num_labels=3),
        "mrpc": CosineSimilarityLoss(tiny_model),
    }
    return datasets, losses


def _trainer(model: SentenceTransformer, setup: tuple, tmp_path: Path, sampler: str, **kwargs: object):
    datasets, losses = setup
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=8,
        report_to="none",
        use_cpu=True,
        multi_dataset_batch_sampler=sampler,
        save_strategy="no",
        seed=5,
        **kwargs,
    )
    return SentenceTransformerTrainer(model=model, args=args, train_dataset=datasets, loss=losses)


def _first_column_texts(dataset: Dataset) -> list[str]:
    return list(dataset[dataset.column_names[0]])


@pytest.mark.parametrize("sampler", [MultiDatasetBatchSamplers.ROUND_ROBIN, MultiDatasetBatchSamplers.PROPORTIONAL])
def test_every_batch_comes_from_one_dataset(
    tiny_model: SentenceTransformer, setup: tuple, tmp_path: Path, sampler: str
) -> None:
    datasets, _ = setup
    trainer = _trainer(tiny_model, setup, tmp_path, sampler)
    batches: list[list[dict]] = []
    collate = trainer.data_collator

    def recording_collator(rows: list[dict]) -> dict:
        batches.append(rows)
        return collate(rows)

    trainer.data_collator = recording_collator
    for _ in trainer.get_train_dataloader():
        pass
    seen: Counter[tuple[str, str]] = Counter()
    for rows in batches:
        names = {row["dataset_name"] for row in rows}
        assert len(names) == 1, f"a batch mixes datasets {names}"
        for row in rows:
            seen[(row["dataset_name"], str(next(iter(row.values()))))] += 1
    if sampler == MultiDatasetBatchSamplers.PROPORTIONAL:
        expected = Counter((name, str(text)) for name, d in datasets.items() for text in _first_column_texts(d))
        assert seen == expected  # every sample of every dataset exactly once
    else:
        per_dataset = Counter(name for name, _ in seen.elements())
        smallest_batches = min(len(d) for d in datasets.values()) // 8
        assert set(per_dataset.values()) == {smallest_batches * 8}
        order = [rows[0]["dataset_name"] for rows in batches]
        assert order[: len(datasets)] == sorted(order[: len(datasets)], key=list(datasets).index)


@pytest.mark.parametrize("sampler", ["round_robin", "proportional"])
def test_trains_with_a_loss_per_dataset(
    tiny_model: SentenceTransformer, setup: tuple, tmp_path: Path, sampler: str
) -> None:
    trainer = _trainer(tiny_model, setup, tmp_path, sampler, max_steps=4)
    assert trainer.train().global_step == 4


def test_eval_loss_reported_per_dataset(tiny_model: SentenceTransformer, setup: tuple, tmp_path: Path) -> None:
    datasets, losses = setup
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, per_device_eval_batch_size=8
    )
    trainer = SentenceTransformerTrainer(
        model=tiny_model, args=args, train_dataset=datasets, eval_dataset=datasets, loss=losses
    )
    metrics = trainer.evaluate()
    assert {f"eval_{name}_loss" for name in datasets} <= set(metrics)


def test_loss_dict_must_match_dataset_names(tiny_model: SentenceTransformer, setup: tuple, tmp_path: Path) -> None:
    datasets, losses = setup
    del losses["mrpc"]
    with pytest.raises(ValueError, match="give every dataset exactly one loss"):
        _trainer(tiny_model, (datasets, losses), tmp_path, "proportional")
