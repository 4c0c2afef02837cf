"""``model_init``: called as transformers calls it, a fresh model per ``train()``, the losses moved onto it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.data.validation import DatasetValidationError
from embedforge.losses import BatchAllTripletLoss, CoSENTLoss, MatryoshkaLoss
from embedforge.training.model_init import fresh_model


def _args(tmp_path: Path) -> SentenceTransformerTrainingArguments:
    return SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=8,
        max_steps=2,
        learning_rate=1e-3,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
    )


def _changed(model: SentenceTransformer, reference: SentenceTransformer) -> bool:
    reference_state = reference.state_dict()
    return any(not torch.equal(value, reference_state[name]) for name, value in model.state_dict().items())


@pytest.mark.parametrize("loss_form", ["factory", "module"])
def test_train_uses_a_fresh_model_and_the_loss_follows_it(
    tiny_bert_path: Path, stsb_pairs: Dataset, tmp_path: Path, loss_form: str
) -> None:
    made: list[SentenceTransformer] = []
    trials: list[Any] = []

    def model_init(trial: Any) -> SentenceTransformer:
        trials.append(trial)
        made.append(SentenceTransformer(str(tiny_bert_path), device="cpu"))
        return made[-1]

    def loss_factory(model: SentenceTransformer) -> MatryoshkaLoss:
        return MatryoshkaLoss(model, CoSENTLoss(model), matryoshka_dims=[8, 4])

    trainer = SentenceTransformerTrainer(
        model=None,
        args=_args(tmp_path),
        train_dataset=stsb_pairs,
        model_init=model_init,
        loss=loss_factory if loss_form == "factory" else None,
    )
    first_loss = trainer.loss
    trainer.train()
    assert len(made) == 2 and trials == [None, None]  # one at construction, one fresh at train()
    assert trainer.model is made[-1]
    losses = [trainer.loss, *trainer.loss.modules()]
    held = [module.model for module in losses if isinstance(getattr(module, "model", None), SentenceTransformer)]
    assert held and all(model is made[-1] for model in held)  # no loss still points at the first model
    assert (trainer.loss is not first_loss) == (loss_form == "factory")  # factories are built again
    assert _changed(made[-1], SentenceTransformer(str(tiny_bert_path), device="cpu"))
    assert not _changed(made[0], SentenceTransformer(str(tiny_bert_path), device="cpu"))


def test_model_init_without_a_parameter_and_clear_errors(tiny_bert_path: Path, stsb_pairs: Dataset) -> None:
    model = fresh_model(lambda: SentenceTransformer(str(tiny_bert_path), device="cpu"))
    assert isinstance(model, SentenceTransformer)
    with pytest.raises(TypeError, match="must take none, or one"):
        fresh_model(lambda trial, other: None)
    with pytest.raises(TypeError, match="returned None"):
        fresh_model(lambda: None)
    with pytest.raises(ValueError, match="optimizers= cannot follow"):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        SentenceTransformerTrainer(
            model=model,
            train_dataset=stsb_pairs,
            loss=CoSENTLoss(model),
            model_init=lambda: model,
            optimizers=(optimizer, None),
        )


def test_class_label_columns_are_integer_labels(tiny_model: SentenceTransformer, tmp_path: Path) -> None:
    """A ``datasets.ClassLabel`` label column holds int class ids: accepted where the loss wants int labels."""
    dataset = Dataset.from_dict(
        {"text": ["a cat", "a dog", "the cat", "the dog"] * 2, "label": ["cat", "dog", "cat", "dog"] * 2}
    ).class_encode_column("label")
    trainer = SentenceTransformerTrainer(
        model=tiny_model, args=_args(tmp_path), train_dataset=dataset, loss=BatchAllTripletLoss(tiny_model)
    )
    trainer.train()
    floats = Dataset.from_dict({"text": ["a", "b"], "label": [0.5, 1.5]})
    with pytest.raises(DatasetValidationError, match="expects int labels"):
        SentenceTransformerTrainer(
            model=tiny_model, args=_args(tmp_path), train_dataset=floats, loss=BatchAllTripletLoss(tiny_model)
        )
