"""VarlenLayout: the host-side packed layout equals what the forward derives from the mask, and the unpadded
forward over it (grid or nested-jagged attention) equals the padded forward in values and gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.data.collator import SentenceTransformerDataCollator
from embedforge.engine.buckets import BUCKET_KEY
from embedforge.engine.varlen import VARLEN_KEY, VarlenLayout, add_varlen_layout, join_columns
from embedforge.losses import CachedMultipleNegativesRankingLoss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.minibatch import slice_features
from embedforge.models import packing
from embedforge.models.packing import Packing

NESTED_ON_CPU = "ignore:The PyTorch API of nested tensors is in prototype stage"
"""torch's CPU math kernel for jagged SDPA unbinds through the prototype nested API and warns; GPUs do not."""


def _assert_gradients_close(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Same gradient names, each close relative to its largest entry (key biases get ~0: softmax shift)."""
    assert actual.keys() == expected.keys()
    for name, grad in expected.items():
        scale = max(float(grad.abs().max()), 1e-3)
        torch.testing.assert_close(actual[name] / scale, grad / scale, atol=1e-5, rtol=0, msg=name)


def _right_padded_mask(lengths: list[int], width: int) -> torch.Tensor:
    return (torch.arange(width) < torch.tensor(lengths)[:, None]).long()


def test_layout_equals_the_mask_derived_packing() -> None:
    lengths = [3, 7, 1, 5, 7]
    mask = _right_padded_mask(lengths, 8)
    layout = VarlenLayout.from_attention_mask(mask)
    reference = Packing.from_attention_mask(mask)
    assert layout is not None
    assert layout.lengths == tuple(lengths)
    assert (layout.index.numel(), layout.max_seqlen, layout.min_seqlen, layout.batch_size) == (23, 7, 1, 5)
    assert layout.has_padding
    torch.testing.assert_close(layout.index, reference.index)
    torch.testing.assert_close(layout.position_ids, reference.position_ids())
    assert layout.cu_seqlens.tolist() == [0, 3, 10, 11, 16, 23]
    assert not VarlenLayout.from_lengths([4, 4], 4).has_padding


@pytest.mark.parametrize(
    "mask",
    [
        torch.tensor([[0, 1, 1], [1, 1, 1]]),  # left padding
        torch.tensor([[1, 0, 1], [1, 1, 1]]),  # a hole
        torch.tensor([[0, 0, 0], [1, 1, 1]]),  # an empty text
        torch.ones(2, 3, 4, dtype=torch.long),  # not (batch, seq_len)
    ],
)
def test_no_layout_for_masks_that_are_not_right_padding(mask: torch.Tensor) -> None:
    assert VarlenLayout.from_attention_mask(mask) is None
    assert VARLEN_KEY not in add_varlen_layout({"attention_mask": mask})


def test_from_lengths_rejects_impossible_lengths() -> None:
    with pytest.raises(ValueError, match=r"1\.\.4 real tokens"):
        VarlenLayout.from_lengths([5, 2], 4)
    with pytest.raises(ValueError, match="1..4"):
        VarlenLayout.from_lengths([0, 2], 4)


def test_slice_equals_the_layout_of_the_sliced_mask() -> None:
    lengths = [6, 2, 3, 9, 1]
    layout = VarlenLayout.from_lengths(lengths, 9)
    sliced = layout.slice(1, 3, 3)
    expected = VarlenLayout.from_attention_mask(_right_padded_mask(lengths[1:3], 3))
    assert expected is not None and sliced.lengths == expected.lengths and sliced.seq_len == 3
    for name in ("index", "cu_seqlens", "position_ids"):
        torch.testing.assert_close(getattr(sliced, name), getattr(expected, name))
    assert layout.to("cpu").lengths == layout.lengths


def test_slice_features_rebuilds_the_layout_and_cuts_the_width(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    features = add_varlen_layout(model.tokenize(sentences))
    plain = {key: value for key, value in features.items() if key != VARLEN_KEY}
    for begin, end in ((0, 2), (2, 5), (1, len(sentences))):
        with_layout, without = slice_features(features, begin, end), slice_features(plain, begin, end)
        torch.testing.assert_close(with_layout["attention_mask"], without["attention_mask"])
        expected = VarlenLayout.from_attention_mask(without["attention_mask"])
        assert expected is not None and with_layout[VARLEN_KEY].lengths == expected.lengths
        torch.testing.assert_close(with_layout[VARLEN_KEY].index, expected.index)


def _no_dropout(model: SentenceTransformer) -> SentenceTransformer:
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def _embed_and_grads(
    model: SentenceTransformer, columns: list[dict[str, torch.Tensor]]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    first, second = (model(dict(features))["sentence_embedding"] for features in columns)
    torch.nn.functional.cosine_similarity(first, second).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return torch.cat([first, second]).detach(), grads


@pytest.mark.filterwarnings(NESTED_ON_CPU)
@pytest.mark.parametrize("attention", ["grid", "nested"])
def test_unpadded_forward_over_a_layout_equals_the_padded_forward(
    attention: str, tiny_bert_path: Path, sentences: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _no_dropout(SentenceTransformer(str(tiny_bert_path), device="cpu").train())
    columns = [model.tokenize(sentences[:5]), model.tokenize(sentences[2:7])]
    model[0].unpad = False
    padded, padded_grads = _embed_and_grads(model, columns)
    model[0].unpad = None
    monkeypatch.setattr(packing, "VARLEN_ATTENTION", attention)

    def refuse(mask: torch.Tensor) -> Packing:
        raise AssertionError("the layout's packing must not be derived from the mask (a device sync on GPUs)")

    monkeypatch.setattr(Packing, "from_attention_mask", staticmethod(refuse))
    unpadded, grads = _embed_and_grads(model, [add_varlen_layout(dict(features)) for features in columns])
    torch.testing.assert_close(unpadded, padded, atol=1e-6, rtol=1e-5)
    _assert_gradients_close(grads, padded_grads)


@pytest.mark.filterwarnings(NESTED_ON_CPU)
def test_nested_attention_with_dropout_trains(
    tiny_bert_path: Path, sentences: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attention dropout runs inside the jagged SDPA call (the flash kernel's dropout on GPUs)."""
    monkeypatch.setattr(packing, "VARLEN_ATTENTION", "nested")
    model = SentenceTransformer(str(tiny_bert_path), device="cpu").train()
    model[0].auto_model.config.attention_probs_dropout_prob = 0.5
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.5
    features = add_varlen_layout(model.tokenize(sentences))
    torch.manual_seed(0)
    first = model(dict(features))["sentence_embedding"]
    torch.manual_seed(1)
    second = model(dict(features))["sentence_embedding"]
    assert first.shape == (len(sentences), model.get_sentence_embedding_dimension())
    assert not torch.allclose(first, second)  # dropout drew different masks
    first.sum().backward()


@pytest.mark.filterwarnings(NESTED_ON_CPU)
def test_eval_forward_with_a_layout_runs_unpadded_and_equals_padded(
    tiny_bert_path: Path, sentences: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GPU ``encode`` batches carry a layout: the eval forward then runs unpadded (nested attention here)."""
    monkeypatch.setattr(packing, "VARLEN_ATTENTION", "nested")
    model = SentenceTransformer(str(tiny_bert_path), device="cpu").eval()
    features = model.tokenize(sentences)
    transformer = model[0]
    assert not transformer.runs_unpadded(features)
    with_layout = add_varlen_layout(dict(features))
    assert transformer.runs_unpadded(with_layout)
    with torch.inference_mode():
        padded = model(dict(features))["sentence_embedding"]
        unpadded = model(with_layout)["sentence_embedding"]
    torch.testing.assert_close(unpadded, padded, atol=1e-6, rtol=1e-5)
    transformer.unpad = False
    assert not transformer.runs_unpadded(add_varlen_layout(dict(features)))


def test_pretokenized_batches_carry_the_layout_when_asked(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    pretokenized = model[0].pretokenize(sentences)
    assert not pretokenized.varlen  # CPU encode stays padded
    batch = type(pretokenized)(pretokenized.columns, pretokenized.pad_values, varlen=True).collate([3, 0, 5])
    expected = VarlenLayout.from_attention_mask(batch["attention_mask"])
    assert expected is not None and batch[VARLEN_KEY].lengths == expected.lengths
    torch.testing.assert_close(batch[VARLEN_KEY].index, expected.index)


def test_collator_adds_layouts_only_when_asked(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    rows = [{"anchor": a, "positive": b} for a, b in zip(sentences[:3], sentences[3:6], strict=True)]
    plain = SentenceTransformerDataCollator(tokenize_fn=model.tokenize)(rows)
    assert all(VARLEN_KEY not in features for features in plain["sentence_features"])
    batch = SentenceTransformerDataCollator(tokenize_fn=model.tokenize, varlen_layout=True)(rows)
    for features, reference in zip(batch["sentence_features"], plain["sentence_features"], strict=True):
        expected = VarlenLayout.from_attention_mask(reference["attention_mask"])
        assert expected is not None and features[VARLEN_KEY].lengths == expected.lengths


def test_cached_mnrl_is_the_same_with_layouts(tiny_bert_path: Path, sentences: list[str]) -> None:
    """GradCache slices columns into mini-batches: the sliced layouts give the same loss and gradients."""
    model = _no_dropout(SentenceTransformer(str(tiny_bert_path), device="cpu").train())
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=3)
    columns = [model.tokenize(sentences[:6]), model.tokenize(sentences[1:7])]
    results = []
    for features in (columns, [add_varlen_layout(dict(column)) for column in columns]):
        model.zero_grad(set_to_none=True)
        value = loss([dict(column) for column in features], None)
        value.backward()
        results.append((value.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (plain_value, plain_grads), (value, grads) = results
    torch.testing.assert_close(value, plain_value, atol=1e-6, rtol=1e-6)
    _assert_gradients_close(grads, plain_grads)


def test_join_columns_concatenates_rows_and_lengths(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    first, second = (add_varlen_layout(model.tokenize(part)) for part in (sentences[:3], sentences[3:]))
    joined = join_columns([first, second])
    assert joined is not None
    width = max(first["input_ids"].shape[1], second["input_ids"].shape[1])
    assert joined["input_ids"].shape == (len(sentences), width)
    assert joined[VARLEN_KEY].lengths == first[VARLEN_KEY].lengths + second[VARLEN_KEY].lengths
    expected = VarlenLayout.from_attention_mask(joined["attention_mask"])
    assert expected is not None
    torch.testing.assert_close(joined[VARLEN_KEY].index, expected.index)
    assert join_columns([first]) is None
    assert join_columns([first, {k: v for k, v in second.items() if k != VARLEN_KEY}]) is None
    assert join_columns([{**first, "prompt_length": 2}, {**second, "prompt_length": 2}]) is None
    bucketed = join_columns([{**first, BUCKET_KEY: 16}, {**second, BUCKET_KEY: 16}])
    assert bucketed is not None and bucketed[BUCKET_KEY] == 16
    torch.testing.assert_close(bucketed["input_ids"], joined["input_ids"])
    assert join_columns([{**first, BUCKET_KEY: 16}, {**second, BUCKET_KEY: 8}]) is None


@pytest.mark.filterwarnings(NESTED_ON_CPU)
def test_embed_columns_joins_columns_under_nested_attention(
    tiny_bert_path: Path, sentences: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One forward for all columns (fewer launches on GPUs), same embeddings and gradients as one per column."""
    model = _no_dropout(SentenceTransformer(str(tiny_bert_path), device="cpu").train())
    columns = [add_varlen_layout(model.tokenize(part)) for part in (sentences[:3], sentences[3:6], sentences[1:4])]
    calls: list[int] = []
    model.register_forward_pre_hook(lambda module, args: calls.append(len(args[0]["input_ids"])))
    generator = torch.Generator().manual_seed(0)
    weights = [torch.randn(3, model.get_sentence_embedding_dimension(), generator=generator) for _ in columns]
    results = {}
    for attention in ("grid", "nested"):
        monkeypatch.setattr(packing, "VARLEN_ATTENTION", attention)
        model.zero_grad(set_to_none=True)
        calls.clear()
        embeddings = embed_columns(model, [dict(column) for column in columns])
        sum((e * weight).sum() for e, weight in zip(embeddings, weights, strict=True)).backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results[attention] = ([e.detach() for e in embeddings], grads, list(calls))
    (grid, grid_grads, grid_calls), (nested, nested_grads, nested_calls) = results["grid"], results["nested"]
    assert grid_calls == [3, 3, 3]  # one forward per column
    assert nested_calls == [9]  # one joined forward
    for ours, theirs in zip(nested, grid, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    _assert_gradients_close(nested_grads, grid_grads)


class _UnreadableLengths(tuple):
    """A lengths tuple that fails when read: the forward must not read it (under torch.compile every read length
    would become a guard, and every batch a recompilation)."""

    def __iter__(self):
        raise AssertionError("the forward read VarlenLayout.lengths")

    def __len__(self) -> int:
        raise AssertionError("the forward read VarlenLayout.lengths")

    def __getitem__(self, index: object):
        raise AssertionError("the forward read VarlenLayout.lengths")


@pytest.mark.filterwarnings(NESTED_ON_CPU)
@pytest.mark.parametrize("attention", ["grid", "nested"])
def test_the_forward_reads_no_host_lengths(
    attention: str, tiny_bert_path: Path, sentences: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packing, "VARLEN_ATTENTION", attention)
    model = SentenceTransformer(str(tiny_bert_path), device="cpu").train()
    features = add_varlen_layout(model.tokenize(sentences))
    layout = features[VARLEN_KEY]
    object.__setattr__(layout, "lengths", _UnreadableLengths(layout.lengths))
    model(features)["sentence_embedding"].sum().backward()
