"""sentence-transformers 6.2 documentation scripts for distillation, ported as a user would (package name changed).

See ``test_st_documentation_scripts.py`` for how the scripts are condensed; helpers are shared from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_st_documentation_scripts import (
    assert_reloads,
    assert_same_as_st,
    eval_keys,
    read_rows,
    single_torch_thread,
    stsb,
    training_args,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures(single_torch_thread.__name__),
]


def test_model_distillation(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/distillation/model_distillation.py``.

    The student is narrower than the teacher (16 vs 32 dims), so the loss carries the projection, as in the script.
    """
    import pandas as pd
    from datasets import Dataset
    from embedforge.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from embedforge.sentence_transformer.losses import EmbedDistillLoss
    from embedforge.sentence_transformer.modules import Dense, Pooling, Transformer
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import SentenceTransformer
    from embedforge.util.similarity import SimilarityFunction

    teacher_model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    transformer = Transformer(str(tiny_bert_path))
    student_model = SentenceTransformer(
        modules=[transformer, Pooling(transformer.get_embedding_dimension()), Dense(32, 16)], device="cpu"
    )
    rows = read_rows(shared_data / "nli" / "pair-class" / "test.csv.gz", 16, ["premise", "hypothesis"])
    nli = Dataset.from_dict({"sentence1": rows["premise"], "sentence2": rows["hypothesis"]})

    def combine_sentences(batch: dict[str, list[str]]) -> dict[str, list[str]]:
        return {"sentence": batch["sentence1"] + batch["sentence2"]}

    nli = nli.map(combine_sentences, batched=True, remove_columns=nli.column_names)
    nli = Dataset.from_pandas(pd.DataFrame(nli).drop_duplicates(), preserve_index=False)
    train_dataset, eval_dataset = nli.select(range(len(nli) - 6)), nli.select(range(len(nli) - 6, len(nli)))
    stsb_eval_dataset = stsb(shared_data, "validation", 8)
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=stsb_eval_dataset["sentence1"],
        sentences2=stsb_eval_dataset["sentence2"],
        scores=stsb_eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    dev_evaluator(teacher_model)

    def map_embeddings(batch: dict[str, list[str]]) -> dict[str, Any]:
        return {"label": teacher_model.encode(batch["sentence"], batch_size=8, show_progress_bar=False).tolist()}

    train_dataset = train_dataset.map(map_embeddings, batched=True, batch_size=50)
    eval_dataset = eval_dataset.map(map_embeddings, batched=True, batch_size=50)
    student_dim = student_model.get_embedding_dimension()
    teacher_dim = teacher_model.get_embedding_dimension()
    assert (student_dim, teacher_dim) == (16, 32)
    projection_dim = teacher_dim if student_dim != teacher_dim else None
    train_loss = EmbedDistillLoss(model=student_model, distance_metric="cosine", projection_dim=projection_dim)
    args = SentenceTransformerTrainingArguments(
        **training_args(
            tmp_path / "out",
            metric_for_best_model="eval_sts-dev_spearman_cosine",
            load_best_model_at_end=True,
            learning_rate=1e-4,
            run_name="distillation-tinybert",
        )
    )
    trainer = SentenceTransformerTrainer(
        model=student_model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=train_loss,
        evaluator=dev_evaluator,
    )
    trainer.train()
    assert {"eval_loss", "eval_sts-dev_spearman_cosine"} <= eval_keys(trainer)
    assert trainer.state.best_model_checkpoint is not None
    final_output_dir = tmp_path / "out" / "final"
    student_model.save(str(final_output_dir))
    reloaded = assert_reloads(student_model, final_output_dir, stsb_eval_dataset["sentence1"])
    assert reloaded.get_embedding_dimension() == 16  # the projection stayed on the loss


def test_make_multilingual(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Ports ``examples/sentence_transformer/training/multilingual/make_multilingual.py`` (a DatasetDict per pair)."""
    import numpy as np
    from datasets import Dataset, DatasetDict
    from embedforge.sentence_transformer.evaluation import MSEEvaluator, SequentialEvaluator, TranslationEvaluator
    from embedforge.sentence_transformer.losses import MSELoss
    from embedforge.sentence_transformer.trainer import SentenceTransformerTrainer
    from embedforge.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from embedforge import SentenceTransformer

    teacher_model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    student_model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    student_model.max_seq_length = 32
    train_dataset_dict, eval_dataset_dict = DatasetDict(), DatasetDict()
    for subset in ("en-de", "en-fr"):
        rows = read_rows(shared_data / "parallel-xnli" / f"{subset}.tsv.gz", 14, ["english", "non_english"])
        pairs = Dataset.from_dict(rows)
        train_dataset_dict[subset], eval_dataset_dict[subset] = pairs.select(range(8)), pairs.select(range(8, 14))

    def prepare_dataset(batch: dict[str, list[str]]) -> dict[str, Any]:
        return {
            "english": batch["english"],
            "non_english": batch["non_english"],
            "label": teacher_model.encode(batch["english"], batch_size=8, show_progress_bar=False),
        }

    column_names = next(iter(train_dataset_dict.values())).column_names
    train_dataset_dict = train_dataset_dict.map(prepare_dataset, batched=True, remove_columns=column_names)
    train_loss = MSELoss(model=student_model)
    evaluators = []
    for subset, eval_dataset in eval_dataset_dict.items():
        evaluators.append(
            MSEEvaluator(
                source_sentences=eval_dataset["english"],
                target_sentences=eval_dataset["non_english"],
                name=subset,
                teacher_model=teacher_model,
                batch_size=8,
            )
        )
        evaluators.append(
            TranslationEvaluator(
                source_sentences=eval_dataset["english"],
                target_sentences=eval_dataset["non_english"],
                name=subset,
                batch_size=8,
            )
        )
    evaluator = SequentialEvaluator(evaluators, main_score_function=np.mean)
    translation_kwargs = {"source_sentences": eval_dataset_dict["en-de"]["english"], "name": "en-de"}
    translation_kwargs["target_sentences"] = eval_dataset_dict["en-de"]["non_english"]
    eval_dataset_dict = eval_dataset_dict.map(prepare_dataset, batched=True, remove_columns=column_names)
    args = SentenceTransformerTrainingArguments(**training_args(tmp_path / "out", learning_rate=2e-5))
    trainer = SentenceTransformerTrainer(
        model=student_model,
        args=args,
        train_dataset=train_dataset_dict,
        eval_dataset=eval_dataset_dict,
        loss=train_loss,
        evaluator=evaluator,
    )
    trainer.train()
    keys = eval_keys(trainer)
    assert {"eval_en-de_loss", "eval_en-fr_loss", "eval_en-de_negative_mse", "eval_en-fr_mean_accuracy"} <= keys
    final_output_dir = tmp_path / "out" / "final"
    student_model.save(str(final_output_dir))
    reloaded = assert_reloads(student_model, final_output_dir, translation_kwargs["source_sentences"])
    ours = TranslationEvaluator(**translation_kwargs)(reloaded)
    assert_same_as_st("TranslationEvaluator", translation_kwargs, final_output_dir, ours)
