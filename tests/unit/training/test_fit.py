"""The legacy ``model.fit`` API: real training runs on the tiny model, and the arguments/data compared with ST 6.2."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import transformers
from datasets import Dataset
from torch.utils.data import DataLoader

from embedforge import InputExample, SentenceTransformer
from embedforge.datasets import NoDuplicatesDataLoader
from embedforge.evaluation import EmbeddingSimilarityEvaluator
from embedforge.losses import CosineSimilarityLoss, MultipleNegativesRankingLoss
from embedforge.training import fit as fit_module
from embedforge.training._fit_data import convert_objectives, examples_to_dataset
from embedforge.training.arguments import BatchSamplers
from embedforge.training.trainer import SentenceTransformerTrainer

# The checkpoint folder fit() picks by default is relative to the working directory: run in tmp_path.
pytestmark = pytest.mark.usefixtures("_in_tmp_path")


@pytest.fixture
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def read_stsb_validation(shared_data: Path, limit: int) -> tuple[list[str], list[str], list[float]]:
    with (shared_data / "stsb" / "validation.csv").open(encoding="utf-8", newline="") as handle:
        rows = [row for _, row in zip(range(limit), csv.DictReader(handle), strict=False)]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows]


def scored_examples(pairs: Dataset) -> list[InputExample]:
    return [InputExample(texts=[row["sentence1"], row["sentence2"]], label=row["score"]) for row in pairs]


def caption_examples(pairs: Dataset) -> list[InputExample]:
    return [InputExample(texts=[row["anchor"], row["positive"]]) for row in pairs]


def sts_evaluator(shared_data: Path) -> EmbeddingSimilarityEvaluator:
    return EmbeddingSimilarityEvaluator(*read_stsb_validation(shared_data, 16), name="sts-dev")


def count_calls(loss: torch.nn.Module) -> list[int]:
    calls: list[int] = []
    loss.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_legacy_script_trains(tiny_model: SentenceTransformer, stsb_pairs: Dataset) -> None:
    # The "Deprecated Training" snippet of the sentence-transformers docs, with the package name replaced.
    before = {name: value.clone() for name, value in tiny_model.state_dict().items()}
    train_dataloader = DataLoader(scored_examples(stsb_pairs), shuffle=True, batch_size=8)
    collate_fn = train_dataloader.collate_fn
    train_loss = CosineSimilarityLoss(tiny_model)
    calls = count_calls(train_loss)
    tiny_model.fit(train_objectives=[(train_dataloader, train_loss)], epochs=1, warmup_steps=2)
    assert len(calls) == 6  # 48 examples / 8
    after = tiny_model.state_dict()
    assert any(not torch.equal(before[name], after[name]) for name in before)
    assert train_dataloader.collate_fn is collate_fn  # fit() leaves the loader as it was


def test_two_objectives_round_robin(
    tiny_model: SentenceTransformer, stsb_pairs: Dataset, caption_pairs: Dataset
) -> None:
    scored = DataLoader(scored_examples(stsb_pairs), shuffle=True, batch_size=8)
    pairs = NoDuplicatesDataLoader(caption_examples(caption_pairs), batch_size=8)
    cosine, ranking = CosineSimilarityLoss(tiny_model), MultipleNegativesRankingLoss(tiny_model)
    cosine_calls, ranking_calls = count_calls(cosine), count_calls(ranking)
    tiny_model.fit(train_objectives=[(scored, cosine), (pairs, ranking)], warmup_steps=2, show_progress_bar=False)
    # round robin: one batch of each in turn until the smaller dataset (40 captions → 5 batches) runs out
    assert len(ranking_calls) == len(cosine_calls) == 5


def test_evaluator_saves_best_model_and_calls_callback(
    tiny_model: SentenceTransformer, stsb_pairs: Dataset, shared_data: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer as STSentenceTransformer

    evaluator = sts_evaluator(shared_data)
    seen: list[tuple[float, float, int]] = []
    loader = DataLoader(scored_examples(stsb_pairs), shuffle=True, batch_size=8)
    output = tmp_path / "best"
    tiny_model.fit(
        [(loader, CosineSimilarityLoss(tiny_model))],
        evaluator=evaluator,
        evaluation_steps=2,
        warmup_steps=1,
        optimizer_params={"lr": 3e-3},
        output_path=str(output),
        callback=lambda score, epoch, steps: seen.append((score, epoch, steps)),
        show_progress_bar=False,
    )
    # every 2 steps; the end-of-epoch evaluation at step 6 is the same as the one just done
    assert [steps for _, _, steps in seen] == [2, 4, 6]
    assert [epoch for _, epoch, _ in seen] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert (output / "eval").is_dir() and not Path("checkpoints").exists()
    best = max(score for score, _, _ in seen)
    saved = SentenceTransformer(str(output), device="cpu")
    assert saved.evaluate(evaluator)["sts-dev_spearman_cosine"] == pytest.approx(best)
    reference = STSentenceTransformer(str(output), device="cpu")  # ST format
    texts = stsb_pairs["sentence1"][:4]
    np.testing.assert_allclose(reference.encode(texts), saved.encode(texts), atol=1e-5)


def test_steps_per_epoch_limits_steps(tiny_model: SentenceTransformer, stsb_pairs: Dataset, tmp_path: Path) -> None:
    loss = CosineSimilarityLoss(tiny_model)
    calls = count_calls(loss)
    output = tmp_path / "final"
    loader = DataLoader(scored_examples(stsb_pairs), batch_size=8)
    tiny_model.fit(
        [(loader, loss)], steps_per_epoch=3, warmup_steps=0, output_path=str(output), show_progress_bar=False
    )
    assert len(calls) == 3
    assert (output / "modules.json").is_file()  # no evaluator: the final model is saved


def test_evaluation_at_every_epoch_end(
    tiny_model: SentenceTransformer, stsb_pairs: Dataset, shared_data: Path, tmp_path: Path
) -> None:
    seen: list[tuple[float, float, int]] = []
    loader = DataLoader(scored_examples(stsb_pairs.select(range(16))), shuffle=True, batch_size=8)
    output = tmp_path / "out"
    tiny_model.fit(
        [(loader, CosineSimilarityLoss(tiny_model))],
        evaluator=sts_evaluator(shared_data),
        epochs=2,
        warmup_steps=0,
        output_path=str(output),
        save_best_model=False,
        callback=lambda score, epoch, steps: seen.append((score, epoch, steps)),
        show_progress_bar=False,
    )
    assert [(epoch, steps) for _, epoch, steps in seen] == [(1.0, 2), (2.0, 4)]
    assert [path.name for path in output.iterdir()] == ["eval"]  # save_best_model=False: no model saved


def test_labels_keep_their_type() -> None:
    assert examples_to_dataset([InputExample(texts=["a", "b"], label=1)]).features["label"].dtype == "int64"
    assert examples_to_dataset([InputExample(texts=["a", "b"], label=0.5)]).features["label"].dtype == "float64"
    assert examples_to_dataset([InputExample(texts=["a", "b"]), InputExample(texts=["c", "d"])]).column_names == [
        "sentence_0",
        "sentence_1",
    ]  # all labels 0: no label column
    teacher = examples_to_dataset([InputExample(texts=["a"], label=np.zeros(3, dtype=np.float32))])
    assert teacher.features["label"].feature.dtype == "float32"


def test_unknown_scheduler_is_an_error(tiny_model: SentenceTransformer, stsb_pairs: Dataset) -> None:
    loader = DataLoader(scored_examples(stsb_pairs), batch_size=8)
    with pytest.raises(ValueError, match="warmupcosinewithhardrestarts"):
        tiny_model.fit([(loader, CosineSimilarityLoss(tiny_model))], scheduler="WarmupPolynomial")


@pytest.mark.parametrize(
    "scheduler", ["constantlr", "WarmupConstant", "WarmupLinear", "warmupcosine", "WarmupCosineWithHardRestarts"]
)
def test_schedules_match_sentence_transformers(scheduler: str) -> None:
    from sentence_transformers.sentence_transformer.fit_mixin import FitMixin

    def learning_rates(make: Any) -> list[float]:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        schedule = make(optimizer)
        rates = []
        for _ in range(12):
            optimizer.step()
            schedule.step()
            rates.append(schedule.get_last_lr()[0])
        return rates

    args = fit_module.legacy_training_arguments(
        output_dir="out",
        batch_size=8,
        batch_sampler=BatchSamplers.BATCH_SAMPLER,
        epochs=1,
        steps_per_epoch=None,
        scheduler=scheduler,
        warmup_steps=3,
        learning_rate=0.1,
        weight_decay=0.01,
        evaluation_steps=0,
        max_grad_norm=1,
        use_amp=False,
        show_progress_bar=False,
        checkpoint_save_steps=None,
        checkpoint_save_total_limit=0,
    )
    ours = learning_rates(
        lambda opt: transformers.get_scheduler(  # as Trainer.create_scheduler builds it
            args.lr_scheduler_type,
            opt,
            num_warmup_steps=args.get_warmup_steps(10),
            num_training_steps=10,
            scheduler_specific_kwargs=args.lr_scheduler_kwargs,
        )
    )
    expected = learning_rates(lambda opt: FitMixin._get_scheduler(opt, scheduler, warmup_steps=3, t_total=10))
    assert ours == pytest.approx(expected)


COMPARED_ARGS = (
    "batch_sampler",
    "multi_dataset_batch_sampler",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "num_train_epochs",
    "max_steps",
    "eval_strategy",
    "eval_steps",
    "max_grad_norm",
    "fp16",
    "disable_tqdm",
    "save_strategy",
    "save_steps",
    "save_total_limit",
    "output_dir",
)


def _capture_train(monkeypatch: pytest.MonkeyPatch, trainer_cls: type, store: dict[str, Any]) -> None:
    def train(self: Any, resume_from_checkpoint: Any = None, **_: Any) -> None:
        store.update(args=self.args, data=self.train_dataset, optimizer=self.optimizer, resume=resume_from_checkpoint)

    monkeypatch.setattr(trainer_cls, "train", train)


def _legacy_objectives(package: Any, model: Any, stsb_pairs: Dataset, caption_pairs: Dataset) -> list[tuple]:
    scored = [package.InputExample(texts=[r["sentence1"], r["sentence2"]], label=r["score"]) for r in stsb_pairs]
    classes = [
        package.InputExample(texts=[r["sentence1"], r["sentence2"]], label=int(r["score"] > 0.5)) for r in stsb_pairs
    ]
    pairs = [package.InputExample(texts=[r["anchor"], r["positive"]]) for r in caption_pairs]
    random.seed(0)
    return [
        (DataLoader(scored, batch_size=8), package.losses.CosineSimilarityLoss(model)),
        (DataLoader(classes, batch_size=8), package.losses.CosineSimilarityLoss(model)),
        (package.NoDuplicatesDataLoader(pairs, batch_size=4), package.losses.MultipleNegativesRankingLoss(model)),
    ]


def test_arguments_data_and_optimizer_match_sentence_transformers(
    tiny_bert_path: Path,
    stsb_pairs: Dataset,
    caption_pairs: Dataset,
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import sentence_transformers
    from sentence_transformers.sentence_transformer import datasets as st_datasets
    from sentence_transformers.sentence_transformer import losses as st_losses
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator as STEvaluator

    import embedforge
    import embedforge.losses

    legacy = {
        "epochs": 1,
        "steps_per_epoch": 7,
        "evaluation_steps": 2,
        "max_grad_norm": 0.5,
        "checkpoint_path": str(tmp_path / "ckpt"),
        "checkpoint_save_steps": 3,
        "checkpoint_save_total_limit": 2,
        "resume_from_checkpoint": True,
        "show_progress_bar": False,
        "weight_decay": 0.1,
        "optimizer_params": {"lr": 1e-4},
    }
    (tmp_path / "ckpt" / "checkpoint-3").mkdir(parents=True)
    runs: dict[str, dict[str, Any]] = {"st": {}, "ours": {}}
    st_package = type(
        "ST",
        (),
        {
            "InputExample": sentence_transformers.InputExample,
            "losses": st_losses,
            "NoDuplicatesDataLoader": st_datasets.NoDuplicatesDataLoader,
        },
    )
    ours_package = type(
        "Ours",
        (),
        {
            "InputExample": embedforge.InputExample,
            "losses": embedforge.losses,
            "NoDuplicatesDataLoader": NoDuplicatesDataLoader,
        },
    )
    sts = read_stsb_validation(shared_data, 8)
    for name, package, model_cls, trainer_cls, evaluator_cls in (
        (
            "st",
            st_package,
            sentence_transformers.SentenceTransformer,
            sentence_transformers.SentenceTransformerTrainer,
            STEvaluator,
        ),
        ("ours", ours_package, SentenceTransformer, SentenceTransformerTrainer, EmbeddingSimilarityEvaluator),
    ):
        _capture_train(monkeypatch, trainer_cls, runs[name])
        model = model_cls(str(tiny_bert_path), device="cpu")
        objectives = _legacy_objectives(package, model, stsb_pairs, caption_pairs)
        model.fit(objectives, evaluator=evaluator_cls(*sts), **legacy)

    st, ours = runs["st"], runs["ours"]
    for field in COMPARED_ARGS:
        assert getattr(ours["args"], field) == getattr(st["args"], field), field
    assert ours["resume"] == st["resume"] == str(tmp_path / "ckpt" / "checkpoint-3")
    assert ours["args"].weight_decay == 0.1 and ours["args"].learning_rate == 1e-4
    assert list(ours["data"]) == list(st["data"]) == ["_dataset_1", "_dataset_2", "_dataset_3"]
    for key in st["data"]:
        converted = ours["data"][key].remove_columns("dataset_name")  # our trainer adds the name column up front
        assert converted.features == st["data"][key].features, key
        st_rows = [{column: row[column] for column in converted.column_names} for row in st["data"][key]]
        assert sorted(map(str, converted)) == sorted(map(str, st_rows)), key

    def groups(optimizer: torch.optim.Optimizer) -> list[tuple]:
        return sorted((g["weight_decay"], sum(p.numel() for p in g["params"])) for g in optimizer.param_groups)

    assert groups(ours["optimizer"]) == groups(st["optimizer"])
    assert type(ours["optimizer"]) is type(st["optimizer"])
    assert ours["optimizer"].defaults == st["optimizer"].defaults  # ST's LambdaLR has already set lr=0 (warm-up)


def test_convert_objectives_options(caption_pairs: Dataset) -> None:
    pairs = NoDuplicatesDataLoader(caption_examples(caption_pairs), batch_size=4)
    data = convert_objectives([(pairs, torch.nn.Identity())])
    assert data.batch_sampler is BatchSamplers.NO_DUPLICATES and data.batch_size == 4
    assert data.datasets["_dataset_1"].num_rows == 40
    with pytest.raises(TypeError, match="DataLoader"):
        convert_objectives([([caption_examples(caption_pairs)], torch.nn.Identity())])
