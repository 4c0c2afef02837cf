"""sentence-transformers 6.2 CrossEncoder training scripts, ported as a user would (package name changed).

The scripts live under ``examples/cross_encoder/training/`` of sentence-transformers. See
``test_st_documentation_scripts.py`` for how they are condensed; helpers are shared from there. WikiQA
(question, answer) pairs stand in for GooAQ, the tiny BERT for the Hub models, and mining runs without faiss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_st_documentation_scripts import (
    assert_changed,
    eval_keys,
    read_rows,
    single_torch_thread,
    snapshot,
    stsb,
    training_args,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures(single_torch_thread.__name__),
]


def assert_ce_same_as_st(
    kind: str, kwargs: dict[str, Any], folder: Path, ours: dict[str, float], tolerance: float = 1e-4
) -> None:
    """sentence-transformers' CrossEncoder evaluator ``kind`` on the saved ``folder`` gives ``ours``.

    A barely trained tiny model scores all pairs almost alike, so a correlation over them reacts to float noise of
    batching; such callers pass a looser ``tolerance`` and compare the raw scores separately.
    """
    from sentence_transformers.cross_encoder import CrossEncoder as StCrossEncoder
    from sentence_transformers.cross_encoder import evaluation as st_evaluation

    theirs = getattr(st_evaluation, kind)(**kwargs)(StCrossEncoder(str(folder), device="cpu"))
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=tolerance), key


def assert_ce_reloads(model: Any, folder: Path, pairs: list[tuple[str, str]]) -> Any:
    """``folder`` reloads (with embedforge) into a CrossEncoder that scores ``pairs`` like ``model``."""
    import numpy as np

    from embedforge.cross_encoder import CrossEncoder

    reloaded = CrossEncoder(str(folder), device="cpu")
    np.testing.assert_allclose(reloaded.predict(pairs), model.predict(pairs), atol=1e-5)
    return reloaded


def wikiqa_pairs(shared_data: Path, limit: int) -> Any:
    """GooAQ stand-in: (question, answer) pairs where the answer is correct."""
    from datasets import Dataset

    rows = read_rows(shared_data / "wikiqa" / "validation.csv", 2000, ["question", "answer", "label"])
    pairs = dict.fromkeys(
        (q, a[:200])
        for q, a, label in zip(rows["question"], rows["answer"], rows["label"], strict=True)
        if label == "1"
    )
    chosen = list(pairs)[:limit]
    return Dataset.from_dict({"question": [q for q, _ in chosen], "answer": [a for _, a in chosen]})


def test_ce_training_stsbenchmark(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/cross_encoder/training/sts/training_stsbenchmark.py``."""
    import numpy as np

    from embedforge.cross_encoder import CrossEncoder
    from embedforge.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator
    from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss
    from embedforge.cross_encoder.trainer import CrossEncoderTrainer
    from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments

    model = CrossEncoder(str(tiny_bert_path), num_labels=1, device="cpu")
    train_dataset, eval_dataset = stsb(shared_data, "train", 16), stsb(shared_data, "validation", 8)
    test_dataset = stsb(shared_data, "test", 10)
    loss = BinaryCrossEntropyLoss(model)
    eval_evaluator = CrossEncoderCorrelationEvaluator(
        sentence_pairs=list(zip(eval_dataset["sentence1"], eval_dataset["sentence2"], strict=True)),
        scores=eval_dataset["score"],
        name="stsb-validation",
    )
    eval_evaluator(model)
    args = CrossEncoderTrainingArguments(**training_args(tmp_path / "out", run_name="reranker-tiny-stsb"))
    before = snapshot(model)
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=loss,
        evaluator=eval_evaluator,
    )
    trainer.train()
    assert_changed(before, model)
    assert {"eval_loss", "eval_stsb-validation_pearson", "eval_stsb-validation_spearman"} <= eval_keys(trainer)
    test_kwargs = {
        "sentence_pairs": list(zip(test_dataset["sentence1"], test_dataset["sentence2"], strict=True)),
        "scores": test_dataset["score"],
        "name": "stsb-test",
    }
    final_output_dir = tmp_path / "out" / "final"
    model.save_pretrained(str(final_output_dir))
    reloaded = assert_ce_reloads(model, final_output_dir, test_kwargs["sentence_pairs"])
    ours = CrossEncoderCorrelationEvaluator(**test_kwargs)(reloaded)
    assert_ce_same_as_st("CrossEncoderCorrelationEvaluator", test_kwargs, final_output_dir, ours, tolerance=5e-3)
    from sentence_transformers.cross_encoder import CrossEncoder as StCrossEncoder

    st_scores = StCrossEncoder(str(final_output_dir), device="cpu").predict(test_kwargs["sentence_pairs"])
    np.testing.assert_allclose(reloaded.predict(test_kwargs["sentence_pairs"]), st_scores, atol=1e-5)


def test_ce_training_nli(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/cross_encoder/training/nli/training_nli.py`` (3 labels, CrossEntropyLoss)."""
    from datasets import Dataset

    from embedforge.cross_encoder import CrossEncoder
    from embedforge.cross_encoder.evaluation import CrossEncoderClassificationEvaluator
    from embedforge.cross_encoder.losses import CrossEntropyLoss
    from embedforge.cross_encoder.trainer import CrossEncoderTrainer
    from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments

    model = CrossEncoder(str(tiny_bert_path), num_labels=3, device="cpu")
    rows = read_rows(shared_data / "nli" / "pair-class" / "test.csv.gz", 30, ["premise", "hypothesis", "label"])
    rows["label"] = [int(label) for label in rows["label"]]
    dataset = Dataset.from_dict(rows)
    train_dataset, eval_dataset, test_dataset = (dataset.select(range(a, b)) for a, b in ((0, 16), (16, 22), (22, 30)))
    loss = CrossEntropyLoss(model)
    dev_cls_evaluator = CrossEncoderClassificationEvaluator(
        sentence_pairs=list(zip(eval_dataset["premise"], eval_dataset["hypothesis"], strict=True)),
        labels=eval_dataset["label"],
        name="AllNLI-dev",
    )
    dev_cls_evaluator(model)
    args = CrossEncoderTrainingArguments(**training_args(tmp_path / "out", run_name="reranker-tiny-nli"))
    before = snapshot(model)
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=loss,
        evaluator=dev_cls_evaluator,
    )
    trainer.train()
    assert_changed(before, model)
    assert "eval_AllNLI-dev_f1_macro" in eval_keys(trainer)
    test_pairs = list(zip(test_dataset["premise"], test_dataset["hypothesis"], strict=True))
    final_output_dir = tmp_path / "out" / "final"
    model.save_pretrained(str(final_output_dir))
    reloaded = assert_ce_reloads(model, final_output_dir, test_pairs)
    assert reloaded.num_labels == 3
    ours = CrossEncoderClassificationEvaluator(test_pairs, test_dataset["label"], name="AllNLI-test")(reloaded)
    kwargs = {"sentence_pairs": test_pairs, "labels": test_dataset["label"], "name": "AllNLI-test"}
    assert_ce_same_as_st("CrossEncoderClassificationEvaluator", kwargs, final_output_dir, ours)


def reranking_samples(eval_dataset: Any, embedding_model: Any, corpus: list[str]) -> list[dict[str, Any]]:
    """The scripts' step 4b: mined candidate lists (positives included) as reranking samples."""
    from embedforge.util import mine_hard_negatives

    hard_eval_dataset = mine_hard_negatives(
        eval_dataset,
        embedding_model,
        corpus=corpus,
        num_negatives=5,
        batch_size=8,
        include_positives=True,
        output_format="n-tuple",
        use_faiss=False,
    )
    return [
        {
            "query": sample["question"],
            "positive": [sample["answer"]],
            "documents": [sample[column_name] for column_name in hard_eval_dataset.column_names[2:]],
        }
        for sample in hard_eval_dataset
    ]


def run_gooaq_script(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path, output_format: str, loss_name: str
) -> Any:
    """Steps 1-8 shared by ``rerankers/training_gooaq_bce.py`` and ``rerankers/training_gooaq_lambda.py``."""
    import torch
    from embedforge.base.evaluation import SequentialEvaluator

    from embedforge import SentenceTransformer
    from embedforge.cross_encoder import CrossEncoder, CrossEncoderModelCardData
    from embedforge.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
    from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss, LambdaLoss
    from embedforge.cross_encoder.trainer import CrossEncoderTrainer
    from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments
    from embedforge.util import mine_hard_negatives

    num_hard_negatives = 2
    model = CrossEncoder(
        str(tiny_bert_path),
        device="cpu",
        model_card_data=CrossEncoderModelCardData(language="en", license="apache-2.0", model_name="tiny on WikiQA"),
    )
    assert (model.num_labels, model.max_length) == (1, 64)
    full_dataset = wikiqa_pairs(shared_data, 20)
    dataset_dict = full_dataset.train_test_split(test_size=4, seed=12)
    train_dataset, eval_dataset = dataset_dict["train"], dataset_dict["test"]
    embedding_model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    hard_train_dataset = mine_hard_negatives(
        train_dataset,
        embedding_model,
        num_negatives=num_hard_negatives,
        absolute_margin=0,
        range_min=0,
        range_max=10,
        sampling_strategy="top",
        batch_size=8,
        output_format=output_format,
        use_faiss=False,
    )
    if loss_name == "bce":
        train_loss = BinaryCrossEntropyLoss(model=model, pos_weight=torch.tensor(num_hard_negatives))
    else:
        train_loss = LambdaLoss(model=model, mini_batch_size=2)
    samples = reranking_samples(eval_dataset, embedding_model, full_dataset["answer"])
    reranking_evaluator = CrossEncoderRerankingEvaluator(
        samples=samples, batch_size=8, name="gooaq-dev", always_rerank_positives=False
    )
    evaluator = SequentialEvaluator([reranking_evaluator])
    evaluator(model)
    args = CrossEncoderTrainingArguments(
        **training_args(
            tmp_path / "out",
            learning_rate=2e-5,
            dataloader_num_workers=0,
            load_best_model_at_end=True,
            metric_for_best_model="eval_gooaq-dev_ndcg@10",
            logging_first_step=True,
            seed=12,
        )
    )
    before = snapshot(model)
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=hard_train_dataset, loss=train_loss, evaluator=evaluator
    )
    trainer.train()
    assert_changed(before, model)
    assert trainer.state.best_model_checkpoint is not None
    assert {"eval_gooaq-dev_map", "eval_gooaq-dev_mrr@10", "eval_gooaq-dev_ndcg@10"} <= eval_keys(trainer)
    final_output_dir = tmp_path / "out" / "final"
    model.save_pretrained(str(final_output_dir))
    reloaded = assert_ce_reloads(model, final_output_dir, [(s["query"], s["documents"][0]) for s in samples])
    kwargs = {"samples": samples, "name": "gooaq-dev", "always_rerank_positives": False}
    assert_ce_same_as_st(
        "CrossEncoderRerankingEvaluator", kwargs, final_output_dir, reloaded.evaluate(reranking_evaluator)
    )
    return hard_train_dataset, final_output_dir


def test_training_gooaq_bce(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/cross_encoder/training/rerankers/training_gooaq_bce.py`` (labeled pairs, pos_weight)."""
    hard_train_dataset, final_output_dir = run_gooaq_script(
        tiny_bert_path, shared_data, tmp_path, "labeled-pair", "bce"
    )
    assert hard_train_dataset.column_names == ["question", "answer", "label"]
    assert set(hard_train_dataset["label"]) == {0, 1}
    card = (final_output_dir / "README.md").read_text(encoding="utf-8")
    assert "tiny on WikiQA" in card and "BinaryCrossEntropyLoss" in card


def test_training_gooaq_lambda(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/cross_encoder/training/rerankers/training_gooaq_lambda.py`` (labeled lists, LambdaLoss)."""
    hard_train_dataset, _ = run_gooaq_script(tiny_bert_path, shared_data, tmp_path, "labeled-list", "lambda")
    assert hard_train_dataset.column_names == ["question", "answer", "labels"]
    assert all(labels[0] == 1 and set(labels[1:]) == {0} for labels in hard_train_dataset["labels"])


def test_training_gooaq_cmnrl(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/cross_encoder/training/rerankers/training_gooaq_cmnrl.py`` (random in-batch negatives).

    CrossEncoderNanoBEIREvaluator needs the Hub; a CrossEncoderRerankingEvaluator on WikiQA takes its place.
    """
    from embedforge.cross_encoder import CrossEncoder, CrossEncoderModelCardData
    from embedforge.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
    from embedforge.cross_encoder.losses import CachedMultipleNegativesRankingLoss
    from embedforge.cross_encoder.trainer import CrossEncoderTrainer
    from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments

    model = CrossEncoder(
        str(tiny_bert_path),
        device="cpu",
        model_card_data=CrossEncoderModelCardData(language="en", license="apache-2.0", model_name="tiny on WikiQA"),
    )
    dataset_dict = wikiqa_pairs(shared_data, 24).train_test_split(test_size=8, seed=12)
    train_dataset, eval_dataset = dataset_dict["train"], dataset_dict["test"]
    loss = CachedMultipleNegativesRankingLoss(model=model, num_negatives=2, mini_batch_size=2)
    answers = eval_dataset["answer"]
    samples = [
        {"query": question, "positive": [answer], "documents": [answer, *[a for a in answers if a != answer][:3]]}
        for question, answer in zip(eval_dataset["question"], answers, strict=True)
    ]
    evaluator = CrossEncoderRerankingEvaluator(samples=samples, name="wikiqa-dev", always_rerank_positives=False)
    evaluator(model)
    args = CrossEncoderTrainingArguments(
        **training_args(tmp_path / "out", learning_rate=2e-5, logging_first_step=True, seed=12)
    )
    before = snapshot(model)
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, loss=loss, evaluator=evaluator
    )
    trainer.train()
    assert_changed(before, model)
    assert {"eval_loss", "eval_wikiqa-dev_ndcg@10"} <= eval_keys(trainer)
    final_output_dir = tmp_path / "out" / "final"
    model.save_pretrained(str(final_output_dir))
    reloaded = assert_ce_reloads(model, final_output_dir, [(s["query"], s["documents"][1]) for s in samples])
    kwargs = {"samples": samples, "name": "wikiqa-dev", "always_rerank_positives": False}
    assert_ce_same_as_st("CrossEncoderRerankingEvaluator", kwargs, final_output_dir, evaluator(reloaded))
