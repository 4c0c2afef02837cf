"""DeBERTa-v2/v3 packed forward: the padded forward's hidden states and gradients across the configurations that
change its attention (shared or own position projections, log buckets, c2p/p2c, no relative attention, absolute
positions, token types); models with the convolution layer keep the padded forward."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import DebertaV2Config, DebertaV2Model

from embedforge.engine.varlen import add_varlen_layout
from embedforge.models.packing import can_pack, is_packable, packed_token_embeddings

V3 = {
    "relative_attention": True, "pos_att_type": ["p2c", "c2p"], "position_buckets": 8, "share_att_key": True,
    "norm_rel_ebd": "layer_norm", "position_biased_input": False, "type_vocab_size": 0,
}  # fmt: skip
V2 = {
    "relative_attention": True, "pos_att_type": ["p2c", "c2p"], "position_buckets": -1, "share_att_key": False,
    "max_relative_positions": 16, "position_biased_input": True, "type_vocab_size": 2,
}  # fmt: skip


def _model(**settings: Any) -> DebertaV2Model:
    config = DebertaV2Config(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **settings,
    )  # fmt: skip
    torch.manual_seed(0)
    return DebertaV2Model(config).train()  # training mode: the packed forward's setting


def _features(token_types: bool) -> dict[str, torch.Tensor]:
    lengths = [5, 37, 3, 40, 12]  # longer than the 8 buckets and the 16 relative positions: far distances too
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.zeros(len(lengths), 40, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(3, 100, (length,), generator=generator)
        mask[row, :length] = 1
    features = {"input_ids": input_ids, "attention_mask": mask}
    if token_types:  # a pair per row: the second half of each text is segment 1
        features["token_type_ids"] = ((torch.arange(40) >= torch.tensor(lengths)[:, None] // 2) & mask.bool()).long()
    return features


def _run(model: DebertaV2Model, compute: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    hidden = compute()
    (hidden * torch.linspace(-1, 1, hidden.shape[-1])).sum().backward()
    return hidden.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(V3, id="v3"),
        pytest.param(V2, id="v2"),
        pytest.param({**V2, "pos_att_type": ["c2p"]}, id="c2p-only"),
        pytest.param({**V3, "pos_att_type": ["p2c"], "share_att_key": False}, id="p2c-own-projection"),
        pytest.param({"relative_attention": False, "type_vocab_size": 2}, id="no-relative-attention"),
    ],
)
def test_packed_equals_padded(settings: dict[str, Any]) -> None:
    model = _model(**settings)
    features = add_varlen_layout(_features(token_types=model.config.type_vocab_size > 0))
    mask = features["attention_mask"].unsqueeze(-1)
    assert is_packable(model) and can_pack(model, features, "right")
    padded, padded_grads = _run(model, lambda: model(**{k: features[k] for k in features if k != "varlen_layout"})
                                .last_hidden_state * mask)  # fmt: skip
    packed, packed_grads = _run(model, lambda: packed_token_embeddings(model, features))
    torch.testing.assert_close(packed, padded, atol=1e-5, rtol=1e-5)
    assert packed_grads.keys() == padded_grads.keys()
    for name, grad in padded_grads.items():
        scale = max(float(grad.abs().max()), 1e-3)
        torch.testing.assert_close(packed_grads[name] / scale, grad / scale, atol=1e-5, rtol=0, msg=name)


def test_the_convolution_layer_keeps_the_padded_forward() -> None:
    model = _model(**V2, conv_kernel_size=3)
    assert not is_packable(model) and not can_pack(model, add_varlen_layout(_features(True)), "right")
