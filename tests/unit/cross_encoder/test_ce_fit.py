"""The documentation's older ``CrossEncoder.fit``: same weights as sentence-transformers' fit, evaluator and saving."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ce_helpers import PAIRS
from torch import nn
from torch.utils.data import DataLoader

from embedforge import InputExample
from embedforge.cross_encoder import CrossEncoder
from embedforge.cross_encoder.evaluation import CECorrelationEvaluator

# fit() (both libraries') picks its checkpoint folder relative to the working directory: run in tmp_path.
pytestmark = pytest.mark.usefixtures("_in_tmp_path")


@pytest.fixture
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _examples(rows: int = 16, classes: int = 2) -> list[InputExample]:
    return [
        InputExample(
            texts=[PAIRS[index % len(PAIRS)][0], PAIRS[(index * 2 + 1) % len(PAIRS)][1]],
            label=float(index % classes) if classes == 2 else index % classes,
        )
        for index in range(rows)
    ]


def _no_dropout(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def _fit_options(**extra: object) -> dict:
    return {"epochs": 1, "warmup_steps": 2, "optimizer_params": {"lr": 5e-4}, "show_progress_bar": False, **extra}


def _state_after_fit(model: nn.Module, **options: object) -> dict[str, torch.Tensor]:
    _no_dropout(model)
    model.fit(DataLoader(_examples(), batch_size=4, shuffle=False), **_fit_options(**options))
    return model.state_dict()


def test_fit_equals_sentence_transformers(tiny_ce_path: Path) -> None:
    from sentence_transformers.cross_encoder import CrossEncoder as STCrossEncoder

    before = {name: value.clone() for name, value in CrossEncoder(str(tiny_ce_path), device="cpu").state_dict().items()}
    ours = _state_after_fit(CrossEncoder(str(tiny_ce_path), device="cpu"))
    theirs = _state_after_fit(STCrossEncoder(str(tiny_ce_path), device="cpu"))
    theirs = {name.removeprefix("0.model."): value for name, value in theirs.items()}
    for name, value in ours.items():
        torch.testing.assert_close(value, theirs[name.removeprefix("0.auto_model.")], atol=2e-5, rtol=0, msg=name)
    assert max(float((value - before[name]).abs().max()) for name, value in ours.items()) > 1e-4


def test_fit_with_a_torch_loss_trains_on_the_logits(tiny_ce_path: Path) -> None:
    """``loss_fct=BCEWithLogitsLoss()`` is the default loss's formula, so it must give the same weights.

    (sentence-transformers 6.2's own ``fit(loss_fct=...)`` raises ``TypeError``: its wrapper loss refuses the
    ``prompt`` keyword its trainer passes.)
    """
    default = _state_after_fit(CrossEncoder(str(tiny_ce_path), device="cpu"))
    torch_loss = _state_after_fit(CrossEncoder(str(tiny_ce_path), device="cpu"), loss_fct=nn.BCEWithLogitsLoss())
    for name, value in default.items():
        torch.testing.assert_close(torch_loss[name], value, atol=1e-6, rtol=0, msg=name)


def test_fit_with_three_labels_trains_cross_entropy(tiny_ce3_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce3_path), device="cpu")
    examples = _examples(rows=12, classes=3)
    pairs = [example.texts for example in examples]
    labels = torch.tensor([example.label for example in examples])
    loss_before = nn.functional.cross_entropy(
        model.predict(pairs, convert_to_tensor=True, activation_fn=nn.Identity()), labels
    )
    model.fit(DataLoader(examples, batch_size=4, shuffle=False), **_fit_options(epochs=3))
    loss_after = nn.functional.cross_entropy(
        model.predict(pairs, convert_to_tensor=True, activation_fn=nn.Identity()), labels
    )
    assert float(loss_after) < float(loss_before)


def test_fit_evaluates_saves_the_best_model_and_calls_back(tiny_ce_path: Path, tmp_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    examples = _examples()
    evaluator = CECorrelationEvaluator([example.texts for example in examples], [e.label for e in examples], "dev")
    calls: list[tuple[float, float, int]] = []
    model.fit(
        DataLoader(examples, batch_size=4, shuffle=False),
        **_fit_options(
            epochs=2,
            evaluator=evaluator,
            evaluation_steps=2,
            output_path=str(tmp_path / "best"),
            callback=lambda score, epoch, steps: calls.append((score, epoch, steps)),
        ),
    )
    # every 2 of the 4 steps per epoch, and at each epoch's end (the last step's evaluation is not repeated)
    assert [steps for _, _, steps in calls] == [2, 4, 6, 8]
    assert all(-1.0 <= score <= 1.0 for score, _, _ in calls)
    saved = CrossEncoder(str(tmp_path / "best"), device="cpu")
    best = max(score for score, _, _ in calls)
    assert evaluator(saved)[evaluator.primary_metric] == pytest.approx(best, abs=1e-6)
    assert (tmp_path / "best" / "README.md").is_file()
