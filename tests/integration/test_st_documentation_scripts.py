"""sentence-transformers 6.2 documentation training scripts, ported as a user would: package name changed only.

Each test is a condensed re-telling (our own code) of one script under ``examples/sentence_transformer/training/``
of the sentence-transformers repository. It keeps what matters for portability (the import lines with
``sentence_transformers`` replaced by ``embedforge``, the classes, constructor arguments, trainer and
training-arguments usage, evaluator calls, save/load) and swaps Hub models and datasets for the tiny BERT fixture
and a few rows of the local data in ``shared_data``. Sizes are tiny (2-4 steps); ``fp16``/``bf16`` are dropped
because the tests run on CPU. Where sentence-transformers defines the result, the same evaluator is run by
sentence-transformers on the folder we saved and the metrics must match.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


@pytest.fixture(autouse=True)
def single_torch_thread() -> Any:
    """One torch thread: on a small shared machine, thread contention makes these tiny runs several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def read_rows(path: Path, limit: int, columns: list[str]) -> dict[str, list[str]]:
    """The first ``limit`` rows of a CSV/TSV (optionally gzipped) file as columns (strings)."""
    opener = gzip.open if path.suffix == ".gz" else open
    tsv = ".tsv" in path.name
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if tsv else ",", quoting=csv.QUOTE_NONE if tsv else 0)
        rows = [row for _, row in zip(range(limit), reader, strict=False)]
    return {column: [row[column] for row in rows] for column in columns}


def stsb(shared_data: Path, split: str, limit: int) -> Any:
    """``sentence-transformers/stsb`` stand-in: (sentence1, sentence2, score in 0..1)."""
    from datasets import Dataset

    data = read_rows(shared_data / "stsb" / f"{split}.csv", limit, ["sentence1", "sentence2", "score"])
    data["score"] = [float(score) for score in data["score"]]
    return Dataset.from_dict(data)


def nli_triplets(shared_data: Path, limit: int) -> Any:
    """``sentence-transformers/all-nli`` "triplet" stand-in: (anchor, positive, negative)."""
    from datasets import Dataset

    return Dataset.from_dict(
        read_rows(shared_data / "nli" / "triplet" / "test.csv", limit, ["anchor", "positive", "negative"])
    )


def training_args(output_dir: Path, **overrides: Any) -> dict[str, Any]:
    """The scripts' arguments shrunk to a few CPU steps (evaluation and checkpoints every 2 steps)."""
    base = {
        "output_dir": str(output_dir),
        "num_train_epochs": 1,
        "max_steps": 4,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 4,
        "warmup_steps": 0.1,
        "eval_strategy": "steps",
        "eval_steps": 2,
        "save_strategy": "steps",
        "save_steps": 2,
        "save_total_limit": 2,
        "logging_steps": 1,
        "report_to": "none",
    }
    return {**base, **overrides}


def snapshot(model: Any) -> dict[str, Any]:
    """A detached copy of every parameter, to tell whether training changed the weights."""
    return {name: param.detach().clone() for name, param in model.named_parameters()}


def assert_changed(before: dict[str, Any], model: Any) -> None:
    """At least one parameter moved during training."""
    import torch

    after = dict(model.named_parameters())
    assert any(not torch.equal(before[name], after[name].detach()) for name in before), "training changed no weight"


def assert_reloads(model: Any, folder: Path, texts: list[str]) -> Any:
    """``folder`` reloads (with embedforge) into a model that embeds ``texts`` like ``model``; returns it."""
    import numpy as np

    from embedforge import SentenceTransformer

    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(reloaded.encode(texts), model.encode(texts), atol=1e-5)
    return reloaded


def assert_same_as_st(kind: str, kwargs: dict[str, Any], folder: Path, ours: dict[str, float]) -> None:
    """sentence-transformers' evaluator ``kind`` on the saved ``folder`` gives the same metrics as ``ours``."""
    import sentence_transformers
    from sentence_transformers.sentence_transformer import evaluation as st_evaluation

    st_model = sentence_transformers.SentenceTransformer(str(folder), device="cpu")
    theirs = getattr(st_evaluation, kind)(**kwargs)(st_model)
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-4), key


def eval_keys(trainer: Any) -> set[str]:
    """Every metric key the trainer logged during evaluation."""
    return {key for entry in trainer.state.log_history for key in entry if key.startswith("eval_")}


def test_training_stsbenchmark(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/sts/training_stsbenchmark.py``."""
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from embedforge.sentence_transformer.losses import CosineSimilarityLoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import SentenceTransformer
    from embedforge.util.similarity import SimilarityFunction

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_dataset, eval_dataset = stsb(shared_data, "train", 16), stsb(shared_data, "validation", 8)
    test_dataset = stsb(shared_data, "test", 12)
    train_loss = CosineSimilarityLoss(model=model)
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=eval_dataset["sentence1"],
        sentences2=eval_dataset["sentence2"],
        scores=eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    args = SentenceTransformerTrainingArguments(**training_args(tmp_path / "out", run_name="sts"))
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=train_loss,
        evaluator=dev_evaluator,
    )
    trainer.train()
    assert_changed(before, model)
    assert {"eval_loss", "eval_sts-dev_pearson_cosine", "eval_sts-dev_spearman_cosine"} <= eval_keys(trainer)
    assert sorted(path.name for path in (tmp_path / "out").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]

    test_kwargs = {
        "sentences1": test_dataset["sentence1"],
        "sentences2": test_dataset["sentence2"],
        "scores": test_dataset["score"],
        "main_similarity": SimilarityFunction.COSINE,
        "name": "sts-test",
    }
    EmbeddingSimilarityEvaluator(**test_kwargs)(model)
    final_output_dir = tmp_path / "out" / "final"
    model.save(str(final_output_dir))
    reloaded = assert_reloads(model, final_output_dir, test_dataset["sentence1"])
    ours = EmbeddingSimilarityEvaluator(**test_kwargs)(reloaded)
    assert set(ours) == {"sts-test_pearson_cosine", "sts-test_spearman_cosine"}
    from sentence_transformers.util.similarity import SimilarityFunction as StSimilarityFunction

    assert_same_as_st(
        "EmbeddingSimilarityEvaluator",
        {**test_kwargs, "main_similarity": StSimilarityFunction.COSINE},
        final_output_dir,
        ours,
    )


def test_training_nli_v3(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/nli/training_nli_v3.py`` (GISTEmbedLoss, no duplicates)."""
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from embedforge.sentence_transformer.losses import GISTEmbedLoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    from embedforge import SentenceTransformer
    from embedforge.util.similarity import SimilarityFunction

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    triplets = nli_triplets(shared_data, 24)
    train_dataset, eval_dataset = triplets.select(range(16)), triplets.select(range(16, 24))
    guide_model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_loss = GISTEmbedLoss(model, guide_model)
    stsb_eval_dataset = stsb(shared_data, "validation", 8)
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=stsb_eval_dataset["sentence1"],
        sentences2=stsb_eval_dataset["sentence2"],
        scores=stsb_eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    before_training = dev_evaluator(model)
    args = SentenceTransformerTrainingArguments(
        **training_args(tmp_path / "out", batch_sampler=BatchSamplers.NO_DUPLICATES, run_name="nli-v3")
    )
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=train_loss,
        evaluator=dev_evaluator,
    )
    trainer.train()
    assert_changed(before, model)
    assert guide_model is not model and train_loss.guide is guide_model
    assert {"eval_loss", "eval_sts-dev_spearman_cosine"} <= eval_keys(trainer)
    assert dev_evaluator(model).keys() == before_training.keys()
    model.save(str(tmp_path / "out" / "final"))
    assert_reloads(model, tmp_path / "out" / "final", triplets["anchor"][:4])


def test_matryoshka_sts(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/matryoshka/matryoshka_sts.py``."""
    from embedforge.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
        SequentialEvaluator,
        SimilarityFunction,
    )
    from embedforge.sentence_transformer.losses import CoSENTLoss, MatryoshkaLoss

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    matryoshka_dims = [32, 16, 8]
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_dataset, eval_dataset = stsb(shared_data, "train", 16), stsb(shared_data, "validation", 8)
    inner_train_loss = CoSENTLoss(model=model)
    train_loss = MatryoshkaLoss(model, loss=inner_train_loss, matryoshka_dims=matryoshka_dims)

    def evaluators(dataset: Any, prefix: str) -> list[Any]:
        return [
            EmbeddingSimilarityEvaluator(
                sentences1=dataset["sentence1"],
                sentences2=dataset["sentence2"],
                scores=dataset["score"],
                main_similarity=SimilarityFunction.COSINE,
                name=f"{prefix}-{dim}",
                truncate_dim=dim,
            )
            for dim in matryoshka_dims
        ]

    dev_evaluator = SequentialEvaluator(evaluators(eval_dataset, "sts-dev"), main_score_function=lambda s: s[0])
    args = SentenceTransformerTrainingArguments(**training_args(tmp_path / "out", run_name="matryoshka-sts"))
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=train_loss,
        evaluator=dev_evaluator,
    )
    trainer.train()
    assert {f"eval_sts-dev-{dim}_spearman_cosine" for dim in matryoshka_dims} <= eval_keys(trainer)
    test_results = SequentialEvaluator(evaluators(stsb(shared_data, "test", 12), "sts-test"))(model)
    expected = {f"sts-test-{dim}_{kind}_cosine" for dim in matryoshka_dims for kind in ("pearson", "spearman")}
    assert expected <= set(test_results)
    # The truncated evaluations really differ: the 8-dim prefix is not the full embedding.
    assert test_results["sts-test-8_pearson_cosine"] != test_results["sts-test-32_pearson_cosine"]
    model.save(str(tmp_path / "out" / "final"))
    assert_reloads(model, tmp_path / "out" / "final", train_dataset["sentence1"][:4])


def test_adaptive_layer_sts(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/adaptive_layer/adaptive_layer_sts.py``."""
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator, SimilarityFunction
    from embedforge.sentence_transformer.losses import AdaptiveLayerLoss, CoSENTLoss

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_dataset, eval_dataset = stsb(shared_data, "train", 16), stsb(shared_data, "validation", 8)
    inner_train_loss = CoSENTLoss(model=model)
    train_loss = AdaptiveLayerLoss(model, inner_train_loss)
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=eval_dataset["sentence1"],
        sentences2=eval_dataset["sentence2"],
        scores=eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    args = SentenceTransformerTrainingArguments(**training_args(tmp_path / "out", run_name="adaptive-layer-sts"))
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=train_loss,
        evaluator=dev_evaluator,
    )
    trainer.train()
    assert_changed(before, model)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 4 and all(loss == loss for loss in losses)  # logged every step, no NaN
    model.save(str(tmp_path / "out" / "final"))
    assert_reloads(model, tmp_path / "out" / "final", train_dataset["sentence2"][:4])


def test_training_batch_hard_trec(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/other/training_batch_hard_trec.py``."""
    from datasets import Dataset
    from embedforge.base.sampler import BatchSamplers
    from embedforge.sentence_transformer.evaluation import TripletEvaluator
    from embedforge.sentence_transformer.losses import BatchAllTripletLoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import SentenceTransformer

    rows = read_rows(shared_data / "trec" / "train.csv", 24, ["text", "label"])
    train_set = Dataset.from_dict({"text": rows["text"], "label": [int(label) for label in rows["label"]]})
    dev_set = nli_triplets(shared_data, 8)  # the script derives (anchor, positive, negative) triplets
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_loss = BatchAllTripletLoss(model=model)
    dev_evaluator = TripletEvaluator(
        anchors=dev_set["anchor"], positives=dev_set["positive"], negatives=dev_set["negative"], name="trec_dev"
    )
    before_training = model.evaluate(dev_evaluator)
    assert set(before_training) == {"trec_dev_cosine_accuracy"}
    args = SentenceTransformerTrainingArguments(
        **training_args(
            tmp_path / "out",
            per_device_train_batch_size=8,
            warmup_ratio=0.1,
            warmup_steps=0,
            batch_sampler=BatchSamplers.GROUP_BY_LABEL,
            eval_steps=0.5,
            save_steps=0.5,
            logging_steps=0.25,
        )
    )
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_set, loss=train_loss, evaluator=dev_evaluator
    )
    trainer.train()
    assert_changed(before, model)
    assert "eval_trec_dev_cosine_accuracy" in eval_keys(trainer)
    final_output_dir = tmp_path / "out" / "final"
    model.save_pretrained(str(final_output_dir))
    reloaded = assert_reloads(model, final_output_dir, dev_set["anchor"])
    kwargs = {"anchors": dev_set["anchor"], "positives": dev_set["positive"], "negatives": dev_set["negative"]}
    ours = TripletEvaluator(**kwargs, name="trec-test")(reloaded)
    assert_same_as_st("TripletEvaluator", {**kwargs, "name": "trec-test"}, final_output_dir, ours)


def test_training_batch_hard_trec_with_class_label_column(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path
) -> None:
    """Ports the label column of ``examples/sentence_transformer/training/other/training_batch_hard_trec.py``.

    The script's Hub TREC dataset stores ``fine_label`` as a ``datasets.ClassLabel``; this builds one with
    ``class_encode_column`` and trains one step, which sentence-transformers 6.2 accepts.
    """
    from datasets import Dataset
    from embedforge.sentence_transformer.losses import BatchAllTripletLoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import SentenceTransformer

    rows = read_rows(shared_data / "trec" / "train.csv", 8, ["text", "coarse_label"])
    train_set = Dataset.from_dict({"text": rows["text"], "label": rows["coarse_label"]}).class_encode_column("label")
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    args = SentenceTransformerTrainingArguments(
        **training_args(tmp_path / "out", max_steps=1, warmup_steps=0, eval_strategy="no")
    )
    before = snapshot(model)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=train_set, loss=BatchAllTripletLoss(model)).train()
    assert_changed(before, model)
