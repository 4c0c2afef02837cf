"""The GradCache engine: mini-batch boundaries and slices, RNG replay, the backward hook, and its error paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from cached_helpers import COLUMNS, assert_same_grads, load_model, loss_and_grads, single_thread, tokenize
from torch import Tensor

from embedforge import SentenceTransformer
from embedforge.engine.buckets import BUCKET_KEY
from embedforge.engine.row_lengths import ROW_LENGTHS_KEY, RowLengths, add_row_lengths
from embedforge.engine.varlen import VARLEN_KEY, add_varlen_layout
from embedforge.losses import MultipleNegativesRankingLoss, functional
from embedforge.losses.cached import CachedLoss
from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from embedforge.losses.minibatch import feature_batch_size, minibatch_ranges, slice_features
from embedforge.losses.rand_context import RandContext

st_gradcache = pytest.importorskip("sentence_transformers.base.losses.gradcache")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]  # the fixture, imported for this module


@pytest.fixture(scope="module")
def model64(_tiny_bert_session: Path) -> SentenceTransformer:
    """The tiny BERT in float64 (differences are then only the engine's, not rounding); shared, read-only."""
    return load_model(_tiny_bert_session, torch.float64)


@pytest.fixture(scope="module")
def model32(_tiny_bert_session: Path) -> SentenceTransformer:
    return load_model(_tiny_bert_session)


def _padded(lengths: list[int], width: int | None = None) -> dict:
    width = width or max(lengths)
    mask = torch.tensor([[1] * n + [0] * (width - n) for n in lengths])
    return {"input_ids": mask * 7, "attention_mask": mask, "prompt_length": 2, "scale": torch.tensor(3.0)}


@pytest.mark.parametrize(
    ("lengths", "size", "tokens"),
    [
        ([3, 5, 2, 7, 1], 2, None),
        ([3, 5, 2, 7, 1], 32, None),
        ([3, 5, 2, 7, 1], 2, 8),
        ([3, 5, 2, 7, 1], 2, 4),  # 5 and 7 exceed the budget: each alone
        ([9, 1, 1, 1, 9, 2], 2, 10),
    ],
)
def test_ranges_match_sentence_transformers(lengths: list[int], size: int, tokens: int | None) -> None:
    features = _padded(lengths)
    ranges = minibatch_ranges(features, size, tokens)
    assert ranges == st_gradcache._minibatch_ranges(features, size, tokens)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(lengths)
    assert all(end > begin for begin, end in ranges)
    if tokens is not None:
        sums = [sum(lengths[begin:end]) for begin, end in ranges]
        assert all(total <= tokens or end - begin == 1 for total, (begin, end) in zip(sums, ranges, strict=True))


def test_token_budget_needs_an_attention_mask() -> None:
    with pytest.raises(ValueError, match="attention_mask"):
        minibatch_ranges({"input_ids": torch.ones(3, 4)}, 2, 8)


def test_slice_trims_trailing_padding_and_keeps_metadata() -> None:
    features = _padded([3, 5, 2, 7, 1], width=9)
    features["token_type_ids"] = torch.zeros(5, 9, dtype=torch.long)
    part = slice_features(features, 2, 5)
    expected = st_gradcache._create_minibatch({key: value for key, value in features.items() if key != "scale"}, 2, 5)
    assert part["input_ids"].shape == (3, 7)  # trailing columns no row of the slice uses are dropped
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert torch.equal(part[key], expected[key])
    assert part["prompt_length"] == 2
    assert part["scale"] is features["scale"]  # 0-d tensors are shared, not sliced
    assert feature_batch_size(part) == 3
    assert features["input_ids"].shape == (5, 9)  # the input is untouched


@pytest.mark.parametrize("host_side", [None, "layout", "row_lengths"])
def test_slice_of_bucketed_features_keeps_to_the_buckets(host_side: str | None) -> None:
    """Features padded to buckets of 4 (``BUCKET_KEY``): a cut ends at the bucket width of its longest text."""
    features = _padded([3, 5, 2, 7, 1, 9], width=12)
    features[BUCKET_KEY] = 4
    with_layout = host_side == "layout"
    if with_layout:
        add_varlen_layout(features)
    if host_side == "row_lengths":
        add_row_lengths(features)
    widths = {(begin, end): slice_features(features, begin, end)["input_ids"].shape[1] for begin, end in
              [(0, 1), (2, 3), (0, 2), (2, 5), (4, 5), (5, 6), (0, 6)]}  # fmt: skip
    # longest texts 3, 2, 5, 7, 1, 9, 9 tokens -> buckets 4, 4, 8, 8, 4, 12 (the full width), 12
    assert widths == {(0, 1): 4, (2, 3): 4, (0, 2): 8, (2, 5): 8, (4, 5): 4, (5, 6): 12, (0, 6): 12}
    part = slice_features(features, 0, 2)
    assert part[BUCKET_KEY] == 4 and torch.equal(part["attention_mask"], features["attention_mask"][:2, :8])
    if with_layout:
        assert part[VARLEN_KEY].seq_len == 8 and tuple(part[VARLEN_KEY].lengths) == (3, 5)
    if host_side == "row_lengths":
        assert part[ROW_LENGTHS_KEY] == RowLengths((3, 5))


@pytest.mark.parametrize("add", [add_varlen_layout, add_row_lengths])
def test_host_side_lengths_cut_mini_batches_without_reading_the_mask(add: Callable) -> None:
    """With a layout or row lengths the cuts never read the mask's values: a mask on the ``meta`` device, which has
    none (on a GPU each read would be a device-to-host synchronisation), gives the CPU mask's cuts and ranges."""
    lengths = [3, 5, 2, 7, 1, 9]
    features = add(_padded(lengths, width=12))
    on_meta = {key: value.to("meta") if isinstance(value, Tensor) else value for key, value in features.items()}
    for begin, end in [(0, 2), (2, 5), (4, 5), (0, 6)]:
        assert slice_features(on_meta, begin, end)["input_ids"].shape == (end - begin, max(lengths[begin:end]))
    for size, tokens in [(2, 8), (2, 10), (3, None)]:
        assert minibatch_ranges(on_meta, size, tokens) == minibatch_ranges(_padded(lengths, 12), size, tokens)
    bare = {key: value for key, value in on_meta.items() if key not in (VARLEN_KEY, ROW_LENGTHS_KEY)}
    with pytest.raises((NotImplementedError, RuntimeError)):  # without them the mask is read
        slice_features(bare, 0, 2)


def test_slice_keeps_left_padding() -> None:
    mask = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1]])
    part = slice_features({"input_ids": mask, "attention_mask": mask}, 0, 2)
    assert torch.equal(part["attention_mask"], mask[:2])


def test_rand_context_replays_and_restores() -> None:
    torch.manual_seed(0)
    state = RandContext(torch.zeros(2))
    first = torch.rand(3)
    after_first = torch.get_rng_state()
    with state:
        assert torch.equal(torch.rand(3), first)
    assert torch.equal(torch.get_rng_state(), after_first)


def _reference_in_minibatches(model: SentenceTransformer, features: list[dict], size: int) -> Tensor:
    """MNRL on embeddings computed with gradients, mini-batch by mini-batch in GradCache's order (same RNG draws)."""
    embeddings = []
    for column in features:
        ranges = minibatch_ranges(column, size)
        embeddings.append(torch.cat([model(slice_features(column, b, e))["sentence_embedding"] for b, e in ranges]))
    return functional.multiple_negatives_ranking_loss(embeddings[0], embeddings[1:])


def test_dropout_is_replayed_identically(model64: SentenceTransformer, monkeypatch: pytest.MonkeyPatch) -> None:
    model = model64.train()  # dropout 0.1 active
    try:
        features = tokenize(model, COLUMNS)
        loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=3)
        value, grads = loss_and_grads(loss, model, features)
        rng_after_cached = torch.get_rng_state()
        expected_value, expected = loss_and_grads(lambda f, _: _reference_in_minibatches(model, f, 3), model, features)
        assert torch.equal(rng_after_cached, torch.get_rng_state())  # the replay does not advance the RNG
        assert value == pytest.approx(expected_value, abs=1e-12)
        assert_same_grads(grads, expected, atol=1e-10)

        monkeypatch.setattr(RandContext, "__enter__", lambda self: None)  # without the replay, dropout differs
        _, unreplayed = loss_and_grads(loss, model, features)
        assert any(
            not torch.allclose(a, b, atol=1e-6) for a, b in zip(unreplayed, expected, strict=True) if a is not None
        )
    finally:
        model.eval()


def test_first_minibatches_gradients_are_not_dropped(model64: SentenceTransformer) -> None:
    """Regression test for sentence-transformers' old bug: only the last mini-batch's gradient reached the model."""
    model = model64
    features = tokenize(model, COLUMNS)
    _, grads = loss_and_grads(CachedMultipleNegativesRankingLoss(model, mini_batch_size=2), model, features)
    _, plain = loss_and_grads(MultipleNegativesRankingLoss(model), model, features)
    word_embeddings = [n for n, _ in model.named_parameters()].index("0.auto_model.embeddings.word_embeddings.weight")
    elsewhere = [f["input_ids"][2:].flatten() for f in features] + [f["input_ids"].flatten() for f in features[1:]]
    first_only = set(features[0]["input_ids"][:2].flatten().tolist()) - set(torch.cat(elsewhere).tolist())
    assert first_only  # tokens of the first anchor mini-batch only
    rows = sorted(first_only)
    assert grads[word_embeddings][rows].abs().sum() > 0
    torch.testing.assert_close(grads[word_embeddings][rows], plain[word_embeddings][rows], atol=1e-10, rtol=0)
    assert_same_grads(grads, plain, atol=1e-10)


def test_gradient_reaching_the_loss_scales_every_minibatch(model64: SentenceTransformer) -> None:
    model = model64
    features = tokenize(model, COLUMNS)
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=2)
    _, grads = loss_and_grads(loss, model, features)
    _, quarter = loss_and_grads(lambda f, lab: loss(f, lab) * 0.25, model, features)
    assert_same_grads(quarter, [None if g is None else g * 0.25 for g in grads], atol=1e-12)


def test_two_forwards_before_backward_keep_their_own_caches(model64: SentenceTransformer) -> None:
    model = model64
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=2)
    first, second = tokenize(model, COLUMNS[:2]), tokenize(model, [COLUMNS[1], COLUMNS[2]])
    _, grads_first = loss_and_grads(loss, model, first)
    _, grads_second = loss_and_grads(loss, model, second)
    model.zero_grad(set_to_none=True)
    values = [loss(first, None), loss(second, None)]
    (values[1] + values[0]).backward()
    summed = [None if a is None else a + b for a, b in zip(grads_first, grads_second, strict=True)]
    assert_same_grads([p.grad for p in model.parameters()], summed, atol=1e-10)


def test_without_gradients_returns_the_plain_value(model32: SentenceTransformer) -> None:
    model = model32
    features = tokenize(model, COLUMNS)
    with torch.no_grad():
        cached = CachedMultipleNegativesRankingLoss(model, mini_batch_size=2)(features, None)
        plain = MultipleNegativesRankingLoss(model)(features, None)
    assert not cached.requires_grad
    assert cached.item() == pytest.approx(plain.item(), abs=1e-5)


class _FirstColumnOnly(CachedLoss):
    """A deliberately wrong loss that never reads its second column."""

    def forward(self, sentence_features: list[dict], labels: Tensor | None = None) -> Tensor:
        return self.forward_cached(sentence_features, labels)

    def calculate_loss(
        self, reps: list, labels: Tensor | None, *, extras: list | None = None, with_backward: bool = False
    ) -> Tensor:
        value = torch.cat(reps[0]).pow(2).mean()
        if with_backward:
            value.backward()
        return value.detach() if with_backward else value


def test_unused_column_is_a_clear_error(model32: SentenceTransformer) -> None:
    model = model32
    with pytest.raises(ValueError, match=r"did not use the embeddings of input column\(s\) 1"):
        _FirstColumnOnly(model, mini_batch_size=2)(tokenize(model, COLUMNS[:2]), None)


def test_invalid_settings_and_static_models_are_rejected(model32: SentenceTransformer) -> None:
    model = model32
    with pytest.raises(ValueError, match="mini_batch_size must be a positive integer"):
        CachedMultipleNegativesRankingLoss(model, mini_batch_size=0)
    with pytest.raises(ValueError, match="mini_batch_num_tokens must be a positive integer or None"):
        CachedMultipleNegativesRankingLoss(model, mini_batch_num_tokens=0)
    from embedforge.models import StaticEmbedding

    static = SentenceTransformer(modules=[StaticEmbedding(model.tokenizer, embedding_dim=8)], device="cpu")
    with pytest.raises(ValueError, match="StaticEmbedding"):
        CachedMultipleNegativesRankingLoss(static)


def test_progress_bar(model32: SentenceTransformer, capsys: pytest.CaptureFixture[str]) -> None:
    model = model32
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=2, show_progress_bar=True)
    loss(tokenize(model, COLUMNS[:2]), None).backward()
    err = capsys.readouterr().err
    assert "Embed mini-batches" in err and "Calculating loss" in err


def test_distributed_data_parallel_replay(tiny_bert_path: Path, tmp_path: Path) -> None:  # own copy: DDP syncs it
    """Under DDP (gloo, one process) every replayed mini-batch but the last runs in no_sync; gradients still match."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    model = load_model(tiny_bert_path, torch.float64)
    features = tokenize(model, COLUMNS)
    _, plain = loss_and_grads(MultipleNegativesRankingLoss(model), model, features)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        wrapped = DistributedDataParallel(model)
        loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=3, gather_across_devices=True)
        loss.model = wrapped
        _, grads = loss_and_grads(loss, model, features)
    finally:
        dist.destroy_process_group()
    assert_same_grads(grads, plain, atol=1e-10)


def test_replay_runs_under_the_autocast_of_the_forward_pass(model32: SentenceTransformer) -> None:
    """The trainer's mixed-precision context is gone during backward; the replay must re-enter it."""
    model = model32
    features = tokenize(model, COLUMNS)
    dtypes = []

    def bfloat16_step(loss: torch.nn.Module) -> list:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = loss(features, None)
        value.backward()  # outside autocast, as in the trainer
        return [None if p.grad is None else p.grad.clone() for p in model.parameters()]

    linear = model[0].auto_model.encoder.layer[0].intermediate.dense
    handle = linear.register_forward_hook(lambda _m, _i, output: dtypes.append(output.dtype))
    try:
        grads = bfloat16_step(CachedMultipleNegativesRankingLoss(model, mini_batch_size=4))
    finally:
        handle.remove()
    assert dtypes == [torch.bfloat16] * 12  # 3 columns x 2 mini-batches, in the first pass and in the replay
    plain = bfloat16_step(MultipleNegativesRankingLoss(model))
    flat = [torch.cat([g.flatten() for g in gs if g is not None]) for gs in (grads, plain)]
    assert torch.nn.functional.cosine_similarity(*flat, dim=0) > 0.999  # equal up to bfloat16 rounding
