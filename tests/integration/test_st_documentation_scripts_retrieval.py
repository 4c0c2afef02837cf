"""sentence-transformers 6.2 documentation scripts for NLI and retrieval training, ported as a user would.

See ``test_st_documentation_scripts.py`` for how the scripts are condensed; helpers are shared from there.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from test_st_documentation_scripts import (
    assert_changed,
    assert_reloads,
    assert_same_as_st,
    eval_keys,
    nli_triplets,
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


def test_training_nq_prompts(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/prompts/training_nq_prompts.py``.

    NanoBEIREvaluator downloads Hub datasets; the same prompts go to an InformationRetrievalEvaluator on SciFact.
    """
    from datasets import Dataset
    from embedforge.base.sampler import BatchSamplers
    from embedforge.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from embedforge.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    from embedforge import (
        SentenceTransformer,
        SentenceTransformerModelCardData,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    model = SentenceTransformer(
        str(tiny_bert_path),
        device="cpu",
        model_card_data=SentenceTransformerModelCardData(
            language="en", license="apache-2.0", model_name="tiny BERT trained on SciFact pairs"
        ),
    )
    model.set_pooling_include_prompt(True)
    query_prompt, corpus_prompt = "query: ", "document: "
    prompts = {"query": query_prompt, "answer": corpus_prompt}
    queries, corpus, relevant_docs = scifact(shared_data, 12)
    pairs = [(queries[qid], corpus[next(iter(docs))]) for qid, docs in relevant_docs.items()]
    dataset = Dataset.from_dict({"query": [q for q, _ in pairs], "answer": [a[:200] for _, a in pairs]})
    dataset_dict = dataset.train_test_split(test_size=4, seed=12)
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=2)
    args = SentenceTransformerTrainingArguments(
        **training_args(
            tmp_path / "out",
            learning_rate=2e-5,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            logging_first_step=True,
            seed=12,
            prompts=prompts,
        )
    )
    dev_evaluator = InformationRetrievalEvaluator(
        queries, corpus, relevant_docs, query_prompt=query_prompt, corpus_prompt=corpus_prompt, name="scifact"
    )
    before_training = dev_evaluator(model)
    assert (
        before_training["scifact_cosine_ndcg@10"]
        != InformationRetrievalEvaluator(queries, corpus, relevant_docs)(model)["cosine_ndcg@10"]
    ), "prompts had no effect on the embeddings"
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=dataset_dict["train"],
        eval_dataset=dataset_dict["test"],
        loss=loss,
        evaluator=dev_evaluator,
    )
    trainer.train()
    assert "eval_scifact_cosine_ndcg@10" in eval_keys(trainer)
    final = tmp_path / "out" / "final"
    model.save_pretrained(str(final))
    card = (final / "README.md").read_text(encoding="utf-8")
    assert "tiny BERT trained on SciFact pairs" in card and "CachedMultipleNegativesRankingLoss" in card
    reloaded = assert_reloads(model, final, list(queries.values())[:3])
    assert reloaded.encode(["x"], prompt=query_prompt).shape == (1, 32)


def scifact(shared_data: Path, n_queries: int) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """A tiny SciFact retrieval task: ``n_queries`` judged test queries, their documents and 20 others."""
    qrels = read_rows(shared_data / "scifact" / "qrels" / "test.tsv", 10_000, ["query-id", "corpus-id"])
    relevant: dict[str, set[str]] = {}
    for qid, cid in zip(qrels["query-id"], qrels["corpus-id"], strict=True):
        if qid in relevant or len(relevant) < n_queries:
            relevant.setdefault(qid, set()).add(cid)
    with (shared_data / "scifact" / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = {row["_id"]: row["text"] for row in map(json.loads, handle) if row["_id"] in relevant}
    wanted = set().union(*relevant.values())
    corpus: dict[str, str] = {}
    with gzip.open(shared_data / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            if row["_id"] in wanted or len(corpus) < 20:
                corpus[row["_id"]] = f"{row['title']} {row['text']}"[:300]
            if wanted <= corpus.keys() and len(corpus) >= 20:
                break
    return queries, corpus, relevant


def test_hpo_nli_model_init_and_loss_factory(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/hpo/hpo_nli.py`` (``model_init`` + loss factory).

    The script's ``trainer.hyperparameter_search(backend="optuna")`` needs optuna, which is not installed here;
    this runs the script's own fallback, ``trainer.train()``, with the same trainer construction.
    """
    from embedforge.base.sampler import BatchSamplers
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator, SimilarityFunction
    from embedforge.sentence_transformer.losses import MultipleNegativesRankingLoss

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    triplets = nli_triplets(shared_data, 24)
    train_dataset, eval_dataset = triplets.select(range(16)), triplets.select(range(16, 24))
    stsb_eval_dataset = stsb(shared_data, "validation", 8)
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=stsb_eval_dataset["sentence1"],
        sentences2=stsb_eval_dataset["sentence2"],
        scores=stsb_eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    made: list[Any] = []

    def hpo_model_init(trial: Any) -> Any:
        made.append(SentenceTransformer(str(tiny_bert_path), device="cpu"))
        return made[-1]

    def hpo_loss_init(model: Any) -> Any:
        return MultipleNegativesRankingLoss(model)

    args = SentenceTransformerTrainingArguments(
        **training_args(
            tmp_path / "out",
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            eval_strategy="no",
            save_strategy="no",
            run_name="hpo",
        )
    )
    trainer = SentenceTransformerTrainer(
        model=None,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        evaluator=dev_evaluator,
        model_init=hpo_model_init,
        loss=hpo_loss_init,
    )
    trainer.train()
    assert made and trainer.model is made[-1]
    metrics = trainer.evaluate()
    assert "eval_sts-dev_spearman_cosine" in metrics and "eval_loss" in metrics
    assert not list((tmp_path / "out").glob("checkpoint-*"))  # save_strategy="no"
    assert set(dev_evaluator(trainer.model)) == {"sts-dev_pearson_cosine", "sts-dev_spearman_cosine"}


def test_training_multiple_negatives_ranking_loss(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``training_multiple_negatives_ranking_loss.py``.

    (``examples/sentence_transformer/training/quora_duplicate_questions/`` of sentence-transformers.)

    Quora is not available offline: MRPC stands in for duplicate classification and mining, SciFact for retrieval.
    """
    from embedforge.sentence_transformer.evaluation import (
        BinaryClassificationEvaluator,
        InformationRetrievalEvaluator,
        ParaphraseMiningEvaluator,
        SequentialEvaluator,
    )
    from embedforge.sentence_transformer.losses import MultipleNegativesRankingLoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    from embedforge import SentenceTransformer

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    dataset = nli_triplets(shared_data, 24)
    train_dataset, eval_dataset = dataset.select(range(16)), dataset.select(range(16, 24))
    train_loss = MultipleNegativesRankingLoss(model=model)
    pairs = read_rows(shared_data / "mrpc" / "test.csv", 12, ["sentence1", "sentence2", "label", "id1", "id2"])
    binary_kwargs = {
        "sentences1": pairs["sentence1"],
        "sentences2": pairs["sentence2"],
        "labels": [int(label) for label in pairs["label"]],
        "name": "quora-duplicates",
    }
    qid_to_questions = dict(zip(pairs["id1"] + pairs["id2"], pairs["sentence1"] + pairs["sentence2"], strict=True))
    duplicates = [
        (a, b) for a, b, label in zip(pairs["id1"], pairs["id2"], pairs["label"], strict=True) if label == "1"
    ]
    queries, corpus, relevant_docs = scifact(shared_data, 6)
    evaluators = [
        BinaryClassificationEvaluator(**binary_kwargs),
        ParaphraseMiningEvaluator(qid_to_questions, duplicates, name="quora-duplicates-dev"),
        InformationRetrievalEvaluator(queries, corpus, relevant_docs),
    ]
    seq_evaluator = SequentialEvaluator(evaluators, main_score_function=lambda scores: scores[-1])
    before_training = seq_evaluator(model, epoch=0, steps=0)
    assert before_training["sequential_score"] == before_training["cosine_ndcg@10"]
    assert {"quora-duplicates_cosine_ap", "quora-duplicates-dev_average_precision"} <= set(before_training)
    args = SentenceTransformerTrainingArguments(
        **training_args(tmp_path / "out", batch_sampler=BatchSamplers.NO_DUPLICATES, run_name="mnrl")
    )
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=train_loss,
        evaluator=seq_evaluator,
    )
    trainer.train()
    assert_changed(before, model)
    assert {"eval_quora-duplicates_cosine_accuracy", "eval_cosine_mrr@10", "eval_sequential_score"} <= eval_keys(
        trainer
    )
    final_output_dir = tmp_path / "out" / "final"
    model.save(str(final_output_dir))
    reloaded = assert_reloads(model, final_output_dir, pairs["sentence1"][:4])
    ours = BinaryClassificationEvaluator(**binary_kwargs)(reloaded)
    assert_same_as_st("BinaryClassificationEvaluator", binary_kwargs, final_output_dir, ours)
    ours = InformationRetrievalEvaluator(queries, corpus, relevant_docs, name="scifact")(reloaded)
    st_kwargs = {"queries": queries, "corpus": corpus, "relevant_docs": relevant_docs, "name": "scifact"}
    assert_same_as_st("InformationRetrievalEvaluator", st_kwargs, final_output_dir, ours)


def test_training_nli(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/nli/training_nli.py`` (SoftmaxLoss on pair-class NLI)."""
    from datasets import Dataset
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from embedforge.sentence_transformer.losses import SoftmaxLoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import SentenceTransformer
    from embedforge.util.similarity import SimilarityFunction

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    rows = read_rows(shared_data / "nli" / "pair-class" / "test.csv.gz", 24, ["premise", "hypothesis", "label"])
    rows["label"] = [int(label) for label in rows["label"]]
    dataset = Dataset.from_dict(rows)
    train_dataset, eval_dataset = dataset.select(range(16)), dataset.select(range(16, 24))
    train_loss = SoftmaxLoss(model=model, embedding_dimension=model.get_embedding_dimension(), num_labels=3)
    stsb_eval_dataset = stsb(shared_data, "validation", 8)
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=stsb_eval_dataset["sentence1"],
        sentences2=stsb_eval_dataset["sentence2"],
        scores=stsb_eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    dev_evaluator(model)
    args = SentenceTransformerTrainingArguments(**training_args(tmp_path / "out", run_name="nli-v1"))
    before, classifier_before = snapshot(model), snapshot(train_loss.classifier)
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
    assert_changed(classifier_before, train_loss.classifier)  # the loss's own classifier head trains too
    assert {"eval_loss", "eval_sts-dev_spearman_cosine"} <= eval_keys(trainer)
    model.save(str(tmp_path / "out" / "final"))
    reloaded = assert_reloads(model, tmp_path / "out" / "final", rows["premise"][:4])
    assert [type(module).__name__ for module in reloaded] == ["Transformer", "Pooling"]  # no classifier saved
