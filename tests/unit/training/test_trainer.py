"""SentenceTransformerTrainer end to end on a tiny model and real data slices."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.data.validation import DatasetValidationError
from embedforge.losses import CoSENTLoss, MultipleNegativesRankingLoss, SoftmaxLoss


def _args(tmp_path: Path, **kwargs: object) -> SentenceTransformerTrainingArguments:
    defaults = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 8,
        "report_to": "none",
        "learning_rate": 1e-3,
        "seed": 7,
        "use_cpu": True,
        "save_strategy": "no",
        "logging_steps": 1,
    }
    return SentenceTransformerTrainingArguments(**{**defaults, **kwargs})


def _weights(model: SentenceTransformer) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def test_trains_and_saves_st_checkpoints(tiny_model: SentenceTransformer, stsb_pairs: Dataset, tmp_path: Path) -> None:
    st = pytest.importorskip("sentence_transformers")
    before = _weights(tiny_model)
    args = _args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2)
    trainer = SentenceTransformerTrainer(
        model=tiny_model, args=args, train_dataset=stsb_pairs, loss=CoSENTLoss(tiny_model)
    )
    trainer.train()
    after = _weights(tiny_model)
    assert any(not torch.equal(before[name], after[name]) for name in before)
    checkpoint = tmp_path / "out" / "checkpoint-4"
    assert (checkpoint / "modules.json").is_file()
    theirs = st.SentenceTransformer(str(checkpoint), device="cpu")
    texts = ["a man plays guitar", "the dog runs"]
    torch.testing.assert_close(
        torch.as_tensor(theirs.encode(texts)), torch.as_tensor(tiny_model.encode(texts)), atol=1e-5, rtol=0
    )


def test_all_problems_reported_before_any_step(tiny_model: SentenceTransformer, tmp_path: Path) -> None:
    bad = Dataset.from_dict(
        {
            "id": [1, 2],
            "sentence1": ["a man", ""],
            "sentence2": ["a dog", "a cat"],
            "score": ["high", "low"],
        }
    )
    with pytest.raises(DatasetValidationError) as info:
        SentenceTransformerTrainer(
            model=tiny_model, args=_args(tmp_path), train_dataset={"sts": bad}, loss=CoSENTLoss(tiny_model)
        )
    message = str(info.value)
    assert "4 problems" in message
    assert "3 input column(s) ['id', 'sentence1', 'sentence2']" in message
    assert "select_columns" in message
    assert "'id' has dtype int64" in message
    assert "input column 'sentence1' has 1 missing or empty" in message
    assert "label column 'score' has dtype string" in message
    assert "dataset 'sts' with CoSENTLoss" in message
    assert not (tmp_path / "out").exists()


def test_column_count_error_names_loss_inputs(
    tiny_model: SentenceTransformer, stsb_pairs: Dataset, tmp_path: Path
) -> None:
    with pytest.raises(DatasetValidationError, match="label column 'score'.*takes no labels"):
        SentenceTransformerTrainer(
            model=tiny_model,
            args=_args(tmp_path),
            train_dataset=stsb_pairs,
            loss=MultipleNegativesRankingLoss(tiny_model),
        )


def test_softmax_classifier_is_trained(tiny_model: SentenceTransformer, nli_pairs: Dataset, tmp_path: Path) -> None:
    loss = SoftmaxLoss(tiny_model, embedding_dimension=32, num_labels=3)
    before = loss.classifier.weight.detach().clone()
    trainer = SentenceTransformerTrainer(
        model=tiny_model, args=_args(tmp_path, max_steps=2), train_dataset=nli_pairs, loss=loss
    )
    trainer.train()
    assert not torch.equal(before, loss.classifier.weight.detach())


def test_custom_nn_module_loss_works(tiny_model: SentenceTransformer, caption_pairs: Dataset, tmp_path: Path) -> None:
    class MeanCosine(torch.nn.Module):
        def __init__(self, model: SentenceTransformer) -> None:
            super().__init__()
            self.model = model

        def forward(self, sentence_features: list[dict], labels: torch.Tensor | None) -> torch.Tensor:
            a, b = (self.model(features)["sentence_embedding"] for features in sentence_features)
            return 1 - torch.nn.functional.cosine_similarity(a, b).mean()

    trainer = SentenceTransformerTrainer(
        model=tiny_model, args=_args(tmp_path, max_steps=2), train_dataset=caption_pairs, loss=MeanCosine(tiny_model)
    )
    assert trainer.train().global_step == 2


def test_learning_rate_mapping_groups(tiny_model: SentenceTransformer, stsb_pairs: Dataset, tmp_path: Path) -> None:
    args = _args(tmp_path, max_steps=1, learning_rate_mapping={r"encoder\.layer\.1\.": 0.5})
    trainer = SentenceTransformerTrainer(model=tiny_model, args=args, train_dataset=stsb_pairs)
    optimizer = trainer.create_optimizer()
    assert sorted({group["lr"] for group in optimizer.param_groups}) == [1e-3, 0.5]
    with pytest.raises(ValueError, match="match no trainable parameter"):
        bad = _args(tmp_path, max_steps=1, learning_rate_mapping={"nothing_matches": 0.5})
        SentenceTransformerTrainer(model=tiny_model, args=bad, train_dataset=stsb_pairs).create_optimizer()
