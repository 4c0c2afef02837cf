"""Packed (unpadded) training forward: same embeddings and gradients as the padded forward, config untouched."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import transformers

from embedforge import SentenceTransformer
from embedforge.engine.varlen import add_varlen_layout
from embedforge.models import packing
from embedforge.models.packing import (
    PACKABLE_MODEL_CLASSES,
    PACKED_ATTENTION,
    SHORT_GRID_MAX_LEN,
    TOKEN_TYPE_MODEL_TYPES,
    Packing,
    can_pack,
    is_packable,
    packed_sdpa_attention,
    packed_token_embeddings,
    packs_in_encode,
)
from model_builders import build_tiny_encoder, tiny_encoder_sizes


def _loss_and_grads(model: SentenceTransformer, sentences: list[str]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    first, second = model.tokenize(sentences[:4]), model.tokenize(sentences[3:])
    embeddings = [model(features)["sentence_embedding"] for features in (first, second)]
    loss = torch.nn.functional.cosine_similarity(*embeddings).sum()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return torch.cat(embeddings).detach(), grads


@pytest.mark.parametrize("path_fixture", ["tiny_bert_path", "minilm_path"])
def test_packed_equals_padded_in_value_and_gradient(
    path_fixture: str, sentences: list[str], request: pytest.FixtureRequest
) -> None:
    model = SentenceTransformer(str(request.getfixturevalue(path_fixture)), device="cpu").train()
    _assert_packed_equals_padded(model, sentences)


def _assert_packed_equals_padded(model: SentenceTransformer, sentences: list[str]) -> None:
    """Training mode (packing on) with dropout off: the packed and padded forwards agree, values and gradients."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    model[0].unpad = False
    padded_embeddings, padded_grads = _loss_and_grads(model, sentences)
    model[0].unpad = True
    packed_embeddings, packed_grads = _loss_and_grads(model, sentences)
    torch.testing.assert_close(packed_embeddings, padded_embeddings, atol=1e-6, rtol=1e-5)
    assert packed_grads.keys() == padded_grads.keys()
    for name, grad in padded_grads.items():
        scale = max(float(grad.abs().max()), 1e-3)  # key biases get ~0 gradients (softmax shift invariance)
        torch.testing.assert_close(packed_grads[name] / scale, grad / scale, atol=1e-5, rtol=0, msg=name)


def test_packing_is_used_in_training_only_and_restores_the_config(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu").train()
    features = model.tokenize(sentences)
    auto_model = model[0].auto_model
    assert can_pack(auto_model, features, "right")
    assert not can_pack(auto_model, features, "left")
    with torch.no_grad():  # GradCache's first pass: packed too, so that its dropout masks match the second pass
        assert can_pack(auto_model, features, "right")
    model.eval()
    assert not can_pack(auto_model, features, "right")
    model.train()
    model(features)["sentence_embedding"].sum().backward()
    assert auto_model.config._attn_implementation == "sdpa"
    assert PACKED_ATTENTION not in (model[0].auto_model.config.to_json_string())


def test_packing_round_trip() -> None:
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    packing = Packing.from_attention_mask(mask)
    values = torch.arange(6.0).view(2, 3, 1)
    packed = packing.pack(values)
    assert packed.flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert packing.unpack(packed).flatten().tolist() == [0.0, 1.0, 2.0, 3.0, 0.0, 0.0]


def test_default_packs_in_training_on_cpu_only(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu").train()
    transformer = model[0]
    assert transformer.unpad is None
    features = model.tokenize(sentences)
    assert transformer.runs_unpadded(features)
    token_embeddings = model(dict(features))["token_embeddings"]
    padded = ~features["attention_mask"].bool()
    assert padded.any()
    assert not token_embeddings[padded].any()  # the packed forward leaves zeros at padded positions
    meta = {key: value.to("meta") for key, value in features.items()}
    assert not transformer.runs_unpadded(meta)  # an accelerator: the padded forward unless unpad=True
    transformer.unpad = False
    assert not transformer.runs_unpadded(features)
    model.eval()
    transformer.unpad = True
    assert not transformer.runs_unpadded(features)  # never outside training mode


def test_gradient_checkpointing_keeps_the_padded_forward(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu").train()
    model[0].auto_model.gradient_checkpointing_enable()
    assert not model[0].runs_unpadded(model.tokenize(sentences))


@pytest.mark.parametrize("seq_len", [5, SHORT_GRID_MAX_LEN, SHORT_GRID_MAX_LEN + 7])
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_packed_attention_equals_sdpa_on_the_padded_grid(seq_len: int, dropout: float) -> None:
    """Short dropout-free grids take explicit matmuls, the rest torch's fused kernel: both equal padded SDPA."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([seq_len, 1, max(seq_len // 2, 1), seq_len - 1 or 1])
    mask = torch.arange(seq_len)[None, :] < lengths[:, None]
    packing = Packing.from_attention_mask(mask.long())
    tokens, heads, head_dim = int(lengths.sum()), 3, 8
    packed = [torch.randn(1, heads, tokens, head_dim, generator=generator, requires_grad=True) for _ in range(3)]
    grid = [packing.unpack(tensor[0].transpose(0, 1)).transpose(1, 2) for tensor in packed]
    torch.manual_seed(1)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *grid, attn_mask=mask[:, None, None, :], dropout_p=dropout, scale=0.3
    )
    expected = packing.pack(expected.transpose(1, 2))
    expected_grads = torch.autograd.grad(expected.sum(), packed)
    torch.manual_seed(1)
    output, weights = packed_sdpa_attention(
        torch.nn.Module(), *packed, None, scaling=0.3, dropout=dropout, embedforge_packing=packing
    )
    assert weights is None and output.shape == (1, tokens, heads, head_dim)
    torch.testing.assert_close(output[0], expected, atol=1e-6, rtol=1e-5)
    for grad, expected_grad in zip(torch.autograd.grad(output.sum(), packed), expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=1e-5)


ENCODER_TYPES = sorted(set(PACKABLE_MODEL_CLASSES) - {"bert"})


@pytest.mark.parametrize("model_type", ENCODER_TYPES)
def test_other_encoder_families_pack_like_their_padded_forward(
    model_type: str, sentences: list[str], tmp_path: Path
) -> None:
    """RoBERTa's family (positions after the padding index), ELECTRA, DistilBERT (no token_type_ids) through
    SentenceTransformer: the packed training forward runs and equals the padded one, values and gradients."""
    model = SentenceTransformer(str(build_tiny_encoder(tmp_path / model_type, model_type)), device="cpu").train()
    assert is_packable(model[0].auto_model) and model[0].runs_unpadded(model.tokenize(sentences))
    with_dropout, grads = _loss_and_grads(model, sentences)  # dropout on: trains, finite
    assert bool(with_dropout.isfinite().all()) and all(bool(grad.isfinite().all()) for grad in grads.values())
    _assert_packed_equals_padded(model, sentences)


@pytest.mark.parametrize("attention", ["grid", "nested"])
@pytest.mark.parametrize("model_type", ENCODER_TYPES)
def test_packed_forward_with_the_default_padding_index(
    model_type: str, attention: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transformers' own default configs (RoBERTa: pad_token_id 1, positions from 2), from a host-side layout;
    ModernBERT's local layer reaches 4 positions either side, so texts of up to 12 tokens meet its band."""
    from transformers import AutoConfig, AutoModel

    monkeypatch.setattr(packing, "VARLEN_ATTENTION", attention)
    config = AutoConfig.for_model(
        model_type, vocab_size=100, max_position_embeddings=80, **tiny_encoder_sizes(model_type)
    )
    torch.manual_seed(0)
    model = AutoModel.from_config(config).train()  # sdpa where the architecture has it (MPNet: eager)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    lengths = [5, 9, 3, 12]
    input_ids = torch.full((4, 12), config.pad_token_id)
    mask = torch.zeros(4, 12, dtype=torch.long)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(3, 100, (length,))
        mask[row, :length] = 1
    features = add_varlen_layout({"input_ids": input_ids, "attention_mask": mask})
    assert can_pack(model, features, "right")
    padded = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    packed = packed_token_embeddings(model, features)
    real = mask.bool()
    torch.testing.assert_close(packed[real], padded[real], atol=1e-5, rtol=1e-5)
    assert bool((packed[~real] == 0).all())


@pytest.mark.parametrize("attention", ["grid", "nested"])
@pytest.mark.parametrize("model_type", ["bert", "roberta", "mpnet", "modernbert", "deberta-v2"])
def test_packed_forward_under_bf16_autocast(model_type: str, attention: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 autocast (the GPU default) over float32 weights: the packed forward runs, backpropagates and stays within
    bf16 rounding of the padded forward under the same autocast."""
    from transformers import AutoConfig, AutoModel

    monkeypatch.setattr(packing, "VARLEN_ATTENTION", attention)
    config = AutoConfig.for_model(
        model_type, vocab_size=100, max_position_embeddings=80, **tiny_encoder_sizes(model_type)
    )
    torch.manual_seed(0)
    model = AutoModel.from_config(config).train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    input_ids = torch.randint(3, 100, (3, 12))
    mask = (torch.arange(12) < torch.tensor([5, 12, 8])[:, None]).long()
    input_ids = input_ids.masked_fill(mask == 0, config.pad_token_id or 0)
    features = add_varlen_layout({"input_ids": input_ids, "attention_mask": mask})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        packed = packed_token_embeddings(model, features)
        padded = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    torch.testing.assert_close(packed[real].float(), padded[real].float(), atol=5e-2, rtol=5e-2)
    packed.float().sum().backward()
    assert all(bool(p.grad.isfinite().all()) for p in model.parameters() if p.grad is not None)


def test_encode_packs_on_cuda_only_and_mpnet_only_when_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoConfig, AutoModel, PreTrainedModel

    models = {
        name: AutoModel.from_config(AutoConfig.for_model(name, vocab_size=100, **tiny_encoder_sizes(name)))
        for name in ("bert", "mpnet")
    }
    assert not any(packs_in_encode(model, None) for model in models.values())  # CPU: never
    monkeypatch.setattr(PreTrainedModel, "device", property(lambda self: torch.device("cuda")))
    chosen = {
        (name, unpad): packs_in_encode(model, unpad) for name, model in models.items() for unpad in (None, True, False)
    }
    assert chosen == {
        ("bert", None): True, ("bert", True): True, ("bert", False): False,
        ("mpnet", None): False, ("mpnet", True): True, ("mpnet", False): False,
    }  # fmt: skip


@pytest.mark.parametrize("model_type", sorted(PACKABLE_MODEL_CLASSES))
def test_token_type_table_matches_the_transformers_forwards(model_type: str) -> None:
    for class_name in PACKABLE_MODEL_CLASSES[model_type]:
        parameters = inspect.signature(getattr(transformers, class_name).forward).parameters
        assert ("token_type_ids" in parameters) == (model_type in TOKEN_TYPE_MODEL_TYPES), class_name


@pytest.mark.parametrize("model_type", ["bert", *ENCODER_TYPES])
def test_packed_row_gets_no_mask_and_no_packed_sequence_search(
    model_type: str, sentences: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transformers' mask builders return at once for the packed row: no ``(tokens, tokens)`` mask, and no search for
    packed sequences in the position ids (its ``.all()`` is a device-to-host sync per forward on GPUs)."""
    import transformers.masking_utils as masking

    def searched(*args: object, **kwargs: object) -> None:
        raise AssertionError("find_packed_sequence_indices ran for the packed row")

    monkeypatch.setattr(masking, "find_packed_sequence_indices", searched)
    model = SentenceTransformer(str(build_tiny_encoder(tmp_path / model_type, model_type)), device="cpu").train()
    features = add_varlen_layout(model.tokenize(sentences))
    assert model[0].runs_unpadded(features)
    model(features)["sentence_embedding"].sum().backward()
    assert PACKED_ATTENTION not in masking.AttentionMaskInterface._global_mapping
