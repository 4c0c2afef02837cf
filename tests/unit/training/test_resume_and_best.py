"""Resuming equals an uninterrupted run; load_best_model_at_end restores the whole best model."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.evaluation import EmbeddingSimilarityEvaluator
from embedforge.losses import CoSENTLoss


def _args(output: Path, **kwargs: object) -> SentenceTransformerTrainingArguments:
    defaults = {
        "output_dir": str(output),
        "per_device_train_batch_size": 8,
        "report_to": "none",
        "use_cpu": True,
        "learning_rate": 5e-4,
        "seed": 3,
        "max_steps": 6,
        "save_strategy": "steps",
        "save_steps": 2,
        "logging_steps": 1,
        "warmup_steps": 2,
    }
    return SentenceTransformerTrainingArguments(**{**defaults, **kwargs})


def _train(path: Path, dataset: Dataset, output: Path, resume: str | None = None) -> SentenceTransformer:
    model = SentenceTransformer(str(path), device="cpu")
    model[0].auto_model.config.hidden_dropout_prob = 0.1  # dropout on: the RNG state must be restored too
    trainer = SentenceTransformerTrainer(model=model, args=_args(output), train_dataset=dataset, loss=CoSENTLoss(model))
    trainer.train(resume_from_checkpoint=resume)
    return model


def test_resume_equals_uninterrupted(tiny_bert_path: Path, stsb_pairs: Dataset, tmp_path: Path) -> None:
    full = _train(tiny_bert_path, stsb_pairs, tmp_path / "full")
    checkpoint = tmp_path / "full" / "checkpoint-2"
    assert (checkpoint / "optimizer.pt").is_file() and (checkpoint / "modules.json").is_file()
    resumed = _train(tiny_bert_path, stsb_pairs, tmp_path / "resumed", resume=str(checkpoint))
    full_state, resumed_state = full.state_dict(), resumed.state_dict()
    for name, value in full_state.items():
        torch.testing.assert_close(resumed_state[name], value, atol=1e-6, rtol=0, msg=name)
    fresh = SentenceTransformer(str(tiny_bert_path), device="cpu").state_dict()
    assert any(not torch.equal(fresh[name], value) for name, value in full_state.items())


def test_load_best_model_at_end(tiny_bert_path: Path, stsb_pairs: Dataset, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    evaluator = EmbeddingSimilarityEvaluator(
        stsb_pairs["sentence1"][:16], stsb_pairs["sentence2"][:16], stsb_pairs["score"][:16], name="sts"
    )
    args = _args(
        tmp_path / "out",
        eval_strategy="steps",
        eval_steps=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_sts_spearman_cosine",
        learning_rate=3e-3,
        save_total_limit=2,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=stsb_pairs, loss=CoSENTLoss(model), evaluator=evaluator
    )
    trainer.train()
    best = trainer.state.best_model_checkpoint
    assert best is not None
    history = [log for log in trainer.state.log_history if "eval_sts_spearman_cosine" in log]
    scores = {log["step"]: log["eval_sts_spearman_cosine"] for log in history}
    assert int(best.rsplit("-", 1)[1]) == max(scores, key=scores.get)
    expected = SentenceTransformer(best, device="cpu").state_dict()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[name], msg=name)
    state = json.loads((Path(best) / "trainer_state.json").read_text(encoding="utf-8"))
    assert state["best_metric"] == max(scores.values())
