"""CrossEncoderTrainer: same steps as sentence-transformers', every data problem up front, resume, best model, card."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from ce_helpers import PAIRS
from datasets import Dataset, IterableDataset
from torch import Tensor, nn

from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.data.validation import DatasetValidationError
from embedforge.losses.base import InputSpec, LabelKind


class SquaredErrorLoss(CrossEncoderLoss):
    """A minimal cross-encoder loss for trainer tests: mean squared error of the raw logit against the label."""

    input_spec = InputSpec(2, 2, LabelKind.FLOAT, "(query, document) with a score")

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        logits = self.logits(list(zip(inputs[0], inputs[1], strict=True)), prompt, task).view(-1)
        return ((logits - labels.float()) ** 2).mean()


def _pairs_dataset(rows: int = 24) -> Dataset:
    queries = [PAIRS[index % len(PAIRS)][0] for index in range(rows)]
    documents = [PAIRS[(index * 2 + 1) % len(PAIRS)][1] for index in range(rows)]
    return Dataset.from_dict(
        {"query": queries, "document": documents, "label": [float(index % 2) for index in range(rows)]}
    )


def _args(output: Path, **kwargs: object) -> CrossEncoderTrainingArguments:
    defaults = {
        "output_dir": str(output),
        "per_device_train_batch_size": 8,
        "report_to": "none",
        "use_cpu": True,
        "learning_rate": 5e-4,
        "seed": 3,
        "max_steps": 6,
        "save_strategy": "no",
        "logging_steps": 1,
        "warmup_steps": 2,
    }
    return CrossEncoderTrainingArguments(**{**defaults, **kwargs})


def _no_dropout(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def test_default_loss_follows_num_labels(tiny_ce_path: Path, tiny_ce3_path: Path, tmp_path: Path) -> None:
    from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss, CrossEntropyLoss

    one = CrossEncoderTrainer(
        model=CrossEncoder(str(tiny_ce_path), device="cpu"), args=_args(tmp_path / "a"), train_dataset=_pairs_dataset()
    )
    assert isinstance(one.loss, BinaryCrossEntropyLoss)
    classes = _pairs_dataset().remove_columns("label")
    classes = classes.add_column("label", [index % 3 for index in range(len(classes))])
    three = CrossEncoderTrainer(
        model=CrossEncoder(str(tiny_ce3_path), device="cpu"), args=_args(tmp_path / "b"), train_dataset=classes
    )
    assert isinstance(three.loss, CrossEntropyLoss)


def test_training_steps_equal_sentence_transformers(tiny_ce_path: Path, tmp_path: Path) -> None:
    from sentence_transformers.cross_encoder import CrossEncoder as STCrossEncoder
    from sentence_transformers.cross_encoder import CrossEncoderTrainer as STTrainer
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments as STArgs

    dataset = _pairs_dataset()
    ours = CrossEncoder(str(tiny_ce_path), device="cpu")
    theirs = STCrossEncoder(str(tiny_ce_path), device="cpu")
    _no_dropout(ours), _no_dropout(theirs)
    CrossEncoderTrainer(model=ours, args=_args(tmp_path / "ours"), train_dataset=dataset).train()
    st_fields = {field.name for field in dataclasses.fields(STArgs)}  # embedforge's own (nonfinite_loss) left out
    ours_args = {key: value for key, value in _args(tmp_path / "theirs").to_dict().items() if key in st_fields}
    st_args = STArgs(**ours_args | {"output_dir": str(tmp_path / "theirs")})
    STTrainer(model=theirs, args=st_args, train_dataset=dataset).train()
    theirs_state = {name.removeprefix("0.model."): value for name, value in theirs.state_dict().items()}
    for name, value in ours.state_dict().items():
        torch.testing.assert_close(value, theirs_state[name.removeprefix("0.auto_model.")], atol=2e-5, rtol=0, msg=name)


def test_every_data_problem_is_reported_before_training(tiny_ce_path: Path, tmp_path: Path) -> None:
    from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    bad = Dataset.from_dict({"query": ["q", ""], "document": ["d", "e"], "extra": ["x", "y"], "label": [0.5, 3.0]})
    output = tmp_path / "never"
    with pytest.raises(DatasetValidationError) as error:
        CrossEncoderTrainer(model=model, args=_args(output), train_dataset=bad, loss=BinaryCrossEntropyLoss(model))
    message = str(error.value)
    assert "3 input column(s)" in message and "outside [0, 1]" in message and "empty text" in message
    assert not output.exists()


def test_listwise_label_counts_are_checked_up_front(tiny_ce_path: Path, tmp_path: Path) -> None:
    from embedforge.cross_encoder.losses import ListNetLoss

    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    bad = Dataset.from_dict({"query": ["q1", "q2"], "docs": [["a", "b"], ["c", ""]], "labels": [[1, 0], [1]]})
    with pytest.raises(DatasetValidationError) as error:
        CrossEncoderTrainer(model=model, args=_args(tmp_path / "o"), train_dataset=bad, loss=ListNetLoss(model))
    message = str(error.value)
    assert "1 row(s) have a different number of labels" in message and "empty document" in message


def test_iterable_dataset_and_per_column_prompts_are_refused(tiny_ce_path: Path, tmp_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    iterable = IterableDataset.from_generator(lambda: iter([{"query": "q", "document": "d", "label": 1.0}]))
    with pytest.raises(ValueError, match="IterableDataset"):
        CrossEncoderTrainer(
            model=model, args=_args(tmp_path / "a"), train_dataset=iterable, loss=SquaredErrorLoss(model)
        )
    for prompts in ({"query": "q: "}, {"train": {"query": "q: "}}):
        with pytest.raises(ValueError, match="per-column"):
            CrossEncoderTrainer(
                model=model,
                args=_args(tmp_path / "b", prompts=prompts),
                train_dataset=_pairs_dataset(),
                loss=SquaredErrorLoss(model),
            )


def test_prompt_reaches_the_loss(tiny_ce_path: Path, tmp_path: Path) -> None:
    seen: list[str | None] = []

    class Recording(SquaredErrorLoss):
        def forward(
            self,
            inputs: list[list[Any]],
            labels: Tensor | list[Tensor] | None,
            prompt: str | None = None,
            task: str | None = None,
        ) -> Tensor:
            seen.append(prompt)
            return super().forward(inputs, labels, prompt, task)

    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    trainer = CrossEncoderTrainer(
        model=model,
        args=_args(tmp_path / "o", max_steps=1, prompts="query: "),
        train_dataset=_pairs_dataset(),
        loss=Recording(model),
    )
    trainer.train()
    assert seen == ["query: "]


def _train(path: Path, dataset: Dataset, output: Path, resume: str | None = None) -> CrossEncoder:
    model = CrossEncoder(str(path), device="cpu")
    args = _args(output, save_strategy="steps", save_steps=2)
    CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=SquaredErrorLoss(model)).train(
        resume_from_checkpoint=resume
    )
    return model


def test_resume_equals_uninterrupted(tiny_ce_path: Path, tmp_path: Path) -> None:
    dataset = _pairs_dataset()
    full = _train(tiny_ce_path, dataset, tmp_path / "full")
    checkpoint = tmp_path / "full" / "checkpoint-2"
    config = json.loads((checkpoint / "config_sentence_transformers.json").read_text())
    assert config["model_type"] == "CrossEncoder"
    resumed = _train(tiny_ce_path, dataset, tmp_path / "resumed", resume=str(checkpoint))
    for name, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, atol=0, rtol=0, msg=name)


def test_model_card_after_training(tiny_ce_path: Path, tmp_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    CrossEncoderTrainer(
        model=model,
        args=_args(tmp_path / "o", max_steps=2),
        train_dataset=_pairs_dataset(),
        loss=SquaredErrorLoss(model),
    ).train()
    model.save(tmp_path / "final")
    card = (tmp_path / "final" / "README.md").read_text()
    assert "pipeline_tag: text-ranking" in card and "- cross-encoder" in card and "loss:SquaredErrorLoss" in card
    assert "model.rank(" in card and repr(PAIRS[0][0]) in card
    assert "generated_from_trainer" in card
