"""sentence-transformers 6.2 unsupervised-learning scripts (SimCSE, TSDAE, CT), ported as a user would.

The scripts live under ``examples/sentence_transformer/unsupervised_learning/`` of sentence-transformers. See
``test_st_documentation_scripts.py`` for how they are condensed; helpers are shared from there. STSb sentences stand
in for the scripts' Wikipedia sentences.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from test_st_documentation_scripts import (
    assert_changed,
    assert_reloads,
    assert_same_as_st,
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


def sentences(shared_data: Path, limit: int) -> list[str]:
    """Single sentences of at least 10 characters (the scripts' Wikipedia corpus stand-in)."""
    rows = read_rows(shared_data / "stsb" / "train.csv", limit, ["sentence1"])
    return [text.strip() for text in rows["sentence1"] if len(text.strip()) >= 10]


def test_train_stsb_simcse(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``SimCSE/train_stsb_simcse.py`` (its ``sentence_transformers.modules`` import is not a 6.2 path).

    The modules come from the canonical ``sentence_transformer.modules`` path instead.
    """
    from datasets import Dataset
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from embedforge.sentence_transformer.losses import MultipleNegativesRankingLoss
    from embedforge.sentence_transformer.modules import Pooling, Transformer
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import LoggingHandler, SentenceTransformer

    assert LoggingHandler is not None
    word_embedding_model = Transformer(str(tiny_bert_path), max_seq_length=32)
    pooling_model = Pooling(word_embedding_model.get_embedding_dimension())
    model = SentenceTransformer(modules=[word_embedding_model, pooling_model], device="cpu")
    assert model.max_seq_length == 32

    def simcse_map(example: dict[str, str]) -> dict[str, str]:
        return {"sentence1": example["text"].strip(), "sentence2": example["text"].strip()}

    train_dataset = Dataset.from_dict({"text": sentences(shared_data, 20)}).map(simcse_map, remove_columns=["text"])
    eval_sts_dataset = stsb(shared_data, "validation", 8)
    eval_kwargs = {
        "sentences1": eval_sts_dataset["sentence1"],
        "sentences2": eval_sts_dataset["sentence2"],
        "scores": eval_sts_dataset["score"],
        "name": "sts-dev",
    }
    dev_evaluator = EmbeddingSimilarityEvaluator(**eval_kwargs)
    train_loss = MultipleNegativesRankingLoss(model)
    dev_evaluator(model)
    args = SentenceTransformerTrainingArguments(
        **training_args(
            tmp_path / "out",
            warmup_ratio=0.1,
            warmup_steps=0,
            eval_steps=0.5,
            logging_steps=0.25,
            learning_rate=5e-5,
            save_strategy="no",
        )
    )
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_dataset, evaluator=dev_evaluator, loss=train_loss
    )
    trainer.train()
    assert_changed(before, model)  # identical pairs still train: dropout makes the two views differ
    latest_output_path = tmp_path / "out-latest"
    model.save_pretrained(str(latest_output_path))
    reloaded = assert_reloads(model, latest_output_path, eval_kwargs["sentences1"])
    assert_same_as_st("EmbeddingSimilarityEvaluator", eval_kwargs, latest_output_path, dev_evaluator(reloaded))


def test_train_stsb_tsdae(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``TSDAE/train_stsb_tsdae.py`` (noise by random word deletion without nltk).

    The script imports ``SentenceTransformerTrainer`` from ``base.trainer`` (6.2 does not define it there) and passes
    ``BaseTrainingArguments`` (the 6.2 trainer rejects them); both come from their canonical paths here.
    """
    from datasets import Dataset
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from embedforge.sentence_transformer.losses import DenoisingAutoEncoderLoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import SentenceTransformer, models
    from embedforge.util.similarity import SimilarityFunction

    word_embedding_model = models.Transformer(str(tiny_bert_path), max_seq_length=32)
    pooling_model = models.Pooling(word_embedding_model.get_word_embedding_dimension(), "cls")
    model = SentenceTransformer(modules=[word_embedding_model, pooling_model], device="cpu")
    dataset = Dataset.from_dict({"text": sentences(shared_data, 24)})
    rng = random.Random(0)

    def noise_transform(batch: dict[str, list[str]], del_ratio: float = 0.6) -> dict[str, list[str]]:
        noisy = []
        for text in batch["text"]:
            words = text.split()
            kept = [word for word in words if rng.random() < del_ratio]
            noisy.append(" ".join(kept) if kept else rng.choice(words))
        return {"noisy": noisy, "text": batch["text"]}

    dataset.set_transform(transform=noise_transform, columns=["text"], output_all_columns=True)
    dataset = dataset.train_test_split(test_size=4, seed=0)
    assert list(dataset["train"][0]) == ["noisy", "text"]
    train_loss = DenoisingAutoEncoderLoss(model, decoder_name_or_path=str(tiny_bert_path), tie_encoder_decoder=True)
    stsb_eval_dataset = stsb(shared_data, "validation", 8)
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=stsb_eval_dataset["sentence1"],
        sentences2=stsb_eval_dataset["sentence2"],
        scores=stsb_eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    dev_evaluator(model)
    args = SentenceTransformerTrainingArguments(**training_args(tmp_path / "out", learning_rate=3e-5, run_name="tsdae"))
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=dataset["train"],
        eval_dataset=dataset["test"],
        loss=train_loss,
        evaluator=dev_evaluator,
    )
    trainer.train()
    assert_changed(before, model)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses and all(loss > 0 for loss in losses)  # a reconstruction cross-entropy, never zero here
    model.save(str(tmp_path / "out" / "final"))
    assert_reloads(model, tmp_path / "out" / "final", stsb_eval_dataset["sentence1"])


def test_train_stsb_ct(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``CT/train_stsb_ct.py`` (classic import paths, InputExample evaluator, rmsprop).

    The script never builds its ``train_dataset``; here it is the pair data CT expects: each sentence with itself
    (label 1) and with random other sentences (label 0), ``pos_neg_ratio`` = 4.
    """
    from datasets import Dataset
    from embedforge.trainer import SentenceTransformerTrainer

    from embedforge import InputExample, LoggingHandler, SentenceTransformer, losses, models
    from embedforge.evaluation import EmbeddingSimilarityEvaluator
    from embedforge.training_args import SentenceTransformerTrainingArguments

    assert LoggingHandler is not None
    train_sentences = sentences(shared_data, 16)
    sts = stsb(shared_data, "validation", 8)
    dev_samples = [
        InputExample(texts=[row["sentence1"], row["sentence2"]], label=row["score"]) for row in sts.to_list()
    ]
    dev_evaluator = EmbeddingSimilarityEvaluator.from_input_examples(dev_samples, name="sts-dev")
    word_embedding_model = models.Transformer(str(tiny_bert_path), max_seq_length=32)
    pooling_model = models.Pooling(word_embedding_model.get_word_embedding_dimension())
    model = SentenceTransformer(modules=[word_embedding_model, pooling_model], device="cpu")
    train_loss = losses.ContrastiveTensionLoss(model)
    rng = random.Random(0)
    rows: dict[str, list[Any]] = {"sentence1": [], "sentence2": [], "label": []}
    for index, sentence in enumerate(train_sentences):
        other = train_sentences[(index + rng.randrange(1, len(train_sentences))) % len(train_sentences)]
        same = index % 4 == 0
        rows["sentence1"].append(sentence)
        rows["sentence2"].append(sentence if same else other)
        rows["label"].append(1 if same else 0)
    args = SentenceTransformerTrainingArguments(
        **training_args(
            tmp_path / "out",
            warmup_steps=0,
            learning_rate=1e-5,
            weight_decay=0,
            optim="rmsprop",
            eval_strategy="steps",
        )
    )
    before = snapshot(model)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=Dataset.from_dict(rows), loss=train_loss, evaluator=dev_evaluator
    )
    trainer.train()
    assert_changed(before, model)
    assert set(dev_evaluator(model)) == {"sts-dev_pearson_cosine", "sts-dev_spearman_cosine"}
