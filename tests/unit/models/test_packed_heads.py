"""Sequence classifiers (cross-encoders) over the unpadded encoder: the padded forward's logits and gradients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

from embedforge.cross_encoder import CrossEncoder
from embedforge.engine.varlen import add_varlen_layout
from embedforge.models.packed_heads import SEQUENCE_CLASSIFIERS, packed_sequence_logits
from embedforge.models.packing import PACKABLE_MODEL_CLASSES, can_pack
from model_builders import build_tiny_encoder, tiny_encoder_sizes

MODEL_TYPES = sorted(PACKABLE_MODEL_CLASSES)


def test_every_listed_classifier_is_packable() -> None:
    packable = set().union(*PACKABLE_MODEL_CLASSES.values())
    assert set(SEQUENCE_CLASSIFIERS) <= packable
    assert {name for name in packable if name.endswith("ForSequenceClassification")} == set(SEQUENCE_CLASSIFIERS)


def _classifier(model_type: str, num_labels: int, pooling: str | None) -> torch.nn.Module:
    extra = {} if pooling is None else {"classifier_pooling": pooling}
    config = AutoConfig.for_model(
        model_type, vocab_size=100, max_position_embeddings=80, num_labels=num_labels,
        **tiny_encoder_sizes(model_type), **extra,
    )  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config).train()
    for module in model.modules():  # training mode (packing on) without dropout: the forwards must agree
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def _batch(pad_token_id: int) -> dict[str, torch.Tensor]:
    lengths = [5, 11, 3, 12, 7]
    input_ids = torch.full((len(lengths), 12), pad_token_id)
    mask = torch.zeros(len(lengths), 12, dtype=torch.long)
    generator = torch.Generator().manual_seed(1)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(3, 100, (length,), generator=generator)
        mask[row, :length] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def _logits_and_grads(
    model: torch.nn.Module, logits_of: Callable[[], torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    logits = logits_of()
    (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits)).sum().backward()
    return logits.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    ("model_type", "num_labels", "pooling"),
    [*((model_type, 2, None) for model_type in MODEL_TYPES if model_type != "modernbert"),
     ("modernbert", 2, "cls"), ("modernbert", 1, "mean"), ("xlm-roberta", 1, None)],
)  # fmt: skip
def test_packed_logits_equal_the_padded_forward(model_type: str, num_labels: int, pooling: str | None) -> None:
    model = _classifier(model_type, num_labels, pooling)
    assert type(model).__name__ in SEQUENCE_CLASSIFIERS
    features = add_varlen_layout(_batch(model.config.pad_token_id or 0))
    assert can_pack(model, features, "right")
    padded, padded_grads = _logits_and_grads(
        model, lambda: model(input_ids=features["input_ids"], attention_mask=features["attention_mask"]).logits
    )
    packed, packed_grads = _logits_and_grads(model, lambda: packed_sequence_logits(model, features))
    assert packed.shape == (5, num_labels)
    torch.testing.assert_close(packed, padded, atol=1e-5, rtol=1e-5)
    assert packed_grads.keys() == padded_grads.keys()
    for name, grad in padded_grads.items():
        scale = max(float(grad.abs().max()), 1e-3)  # key biases get ~0 gradients (softmax shift invariance)
        torch.testing.assert_close(packed_grads[name] / scale, grad / scale, atol=1e-5, rtol=0, msg=name)


@pytest.mark.parametrize("model_type", ["xlm-roberta", "modernbert", "deberta-v2"])
def test_cross_encoder_predicts_unpadded_like_padded(model_type: str, tmp_path: Path) -> None:
    folder = build_tiny_encoder(tmp_path / model_type, model_type, num_labels=1)
    model = CrossEncoder(str(folder), device="cpu").eval()
    pairs = [("a man plays the guitar " * (1 + index % 3), "music outside in the park") for index in range(9)]
    assert model[0].runs_unpadded(model.preprocess(pairs[:4]))
    unpadded = model.predict(pairs, activation_fn=torch.nn.Identity())
    model[0].unpad_in_eval = False
    padded = model.predict(pairs, activation_fn=torch.nn.Identity())
    np.testing.assert_allclose(unpadded, padded, atol=1e-5)
