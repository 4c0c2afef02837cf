"""encode's GPU pipeline, checked on CPU: the background tokenization of the next chunk changes no result and runs
while the current chunk's forward passes do; the chunk schedule and the host->device helpers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.engine.varlen import VARLEN_KEY, VarlenLayout
from embedforge.model import batching, encode_pipeline
from embedforge.model.batching import host_to_device, pins_memory, restore_order, to_device
from embedforge.model.encode_pipeline import PipelineMode, chunk_sizes, run_pipelined, split_chunks
from embedforge.models import StaticEmbedding

WORDS = "the man woman dog cat child plays guitar in a park near water eats red food big old house".split()


def _texts(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 20)))) for _ in range(count)]


@pytest.fixture
def model(tiny_bert_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_bert_path), device="cpu", prompts={"query": "query: "})


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 8 texts (ramp: the first one max(3, batch_size), then doubling), so 37 texts take several."""
    monkeypatch.setattr(batching, "PRETOKENIZE_CHUNK", 8)
    monkeypatch.setattr(encode_pipeline, "FIRST_CHUNK", 3)


def _encode(model: SentenceTransformer, texts: list[str], prefetch: bool, ramp: bool, **kwargs: Any) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(encode_pipeline, "PREFETCH", prefetch)
        patch.setattr(encode_pipeline, "RAMP", ramp)
        return model.encode(texts, batch_size=kwargs.pop("batch_size", 4), **kwargs)


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert x.shape == y.shape
            assert torch.equal(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("ramp", [False, True], ids=["full-chunks", "ramp"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"prompt_name": "query"},
        {"output_value": "token_embeddings"},
        {"convert_to_tensor": True, "normalize_embeddings": True},
        {"convert_to_numpy": False, "truncate_dim": 8},
        {"batch_size": 5},
    ],
    ids=str,
)
def test_prefetch_on_equals_off_exactly(model: SentenceTransformer, ramp: bool, kwargs: dict) -> None:
    texts = _texts(37)
    off = _encode(model, texts, prefetch=False, ramp=ramp, **dict(kwargs))
    on = _encode(model, texts, prefetch=True, ramp=ramp, **dict(kwargs))
    assert len(on) == len(texts)
    _assert_same(on, off)


@pytest.mark.usefixtures("small_chunks")
def test_chunked_and_ramped_encode_match_one_chunk(model: SentenceTransformer) -> None:
    texts = _texts(37)
    ramped = _encode(model, texts, prefetch=True, ramp=True)
    tokens = _encode(model, texts, prefetch=True, ramp=True, output_value="token_embeddings")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batching, "PRETOKENIZE_CHUNK", 1000)
        whole = _encode(model, texts, prefetch=False, ramp=False)
        whole_tokens = _encode(model, texts, prefetch=False, ramp=False, output_value="token_embeddings")
    np.testing.assert_allclose(ramped, whole, atol=1e-5)
    assert [t.shape for t in tokens] == [t.shape for t in whole_tokens]
    for a, b in zip(tokens, whole_tokens, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    single = model.encode(texts[5])
    np.testing.assert_allclose(ramped[5], single, atol=1e-5)


@pytest.mark.usefixtures("small_chunks")
def test_prefetch_with_an_input_module_that_does_not_pretokenize(model: SentenceTransformer) -> None:
    static = SentenceTransformer(modules=[StaticEmbedding(model.tokenizer, embedding_dim=8)], device="cpu")
    texts = _texts(29)
    assert static[0].pretokenize(texts) is None  # the per-batch tokenization fallback
    off = _encode(static, texts, prefetch=False, ramp=True)
    on = _encode(static, texts, prefetch=True, ramp=True)
    assert on.shape == (29, 8)
    np.testing.assert_array_equal(on, off)


@pytest.mark.usefixtures("small_chunks")
def test_next_chunk_is_tokenized_in_the_background_during_the_forward(
    model: SentenceTransformer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first forward pass of chunk 0 waits (bounded) for chunk 1's tokenization: only a prefetch can end it."""
    events: list[tuple[str, int, str]] = []
    tokenized: list[threading.Event] = [threading.Event() for _ in range(8)]
    original = model[0].pretokenize
    calls = iter(range(8))

    def pretokenize(texts: Any, **kwargs: Any) -> Any:
        chunk = next(calls)
        events.append(("tokenize", chunk, threading.current_thread().name))
        result = original(texts, **kwargs)
        tokenized[chunk].set()
        return result

    forwards = iter(range(1000))

    def before_forward(module: Any, args: Any) -> None:
        index = next(forwards)
        waited = tokenized[1].wait(timeout=5) if index == 0 else tokenized[1].is_set()
        events.append(("forward", index, "chunk 1 tokenized" if waited else "not yet"))

    monkeypatch.setattr(model[0], "pretokenize", pretokenize)
    model.register_forward_pre_hook(before_forward)
    texts = _texts(20)  # chunks of 4 (FIRST_CHUNK 3, raised to batch_size 4), 8 and 8 texts
    on = _encode(model, texts, prefetch=True, ramp=True)

    tokenize = [event for event in events if event[0] == "tokenize"]
    assert [chunk for _, chunk, _ in tokenize] == [0, 1, 2]
    assert all(name.startswith("embedforge-tokenize") for _, _, name in tokenize)
    assert events[1] == ("tokenize", 1, tokenize[1][2])  # chunk 1 started before chunk 0's first forward ended
    assert events[2] == ("forward", 0, "chunk 1 tokenized")
    monkeypatch.setattr(model[0], "pretokenize", original)
    np.testing.assert_array_equal(on, _encode(model, texts, prefetch=False, ramp=True))


def test_run_pipelined_order_threads_and_errors() -> None:
    log: list[str] = []
    prepared = {first: threading.Event() for first in (1, 3, 4, 99)}
    wait_for_next: dict[int, int] = {}

    def prepare(chunk: list[int]) -> list[int]:
        log.append(f"prepare {chunk[0]} in {threading.current_thread().name.split('_')[0]}")
        prepared[chunk[0]].set()
        if chunk[0] == 99:
            raise ValueError("bad chunk")
        return [value * 10 for value in chunk]

    def run(plan: list[int]) -> int:
        following = wait_for_next.get(plan[0] // 10)
        overlapped = following is not None and prepared[following].wait(timeout=5)
        log.append(f"run {plan[0] // 10}" + (" (next prepared)" if overlapped else ""))
        return sum(plan)

    chunks = [[1, 2], [3], [4, 5]]
    assert run_pipelined(chunks, prepare, run, prefetch=False) == [30, 30, 90]
    assert log == [
        "prepare 1 in MainThread",
        "run 1",
        "prepare 3 in MainThread",
        "run 3",
        "prepare 4 in MainThread",
        "run 4",
    ]
    log.clear()
    for event in prepared.values():
        event.clear()
    wait_for_next.update({1: 3, 3: 4})  # run k waits (bounded) until chunk k+1 was prepared: only a prefetch can
    assert run_pipelined(chunks, prepare, run, prefetch=True) == [30, 30, 90]
    assert [entry for entry in log if entry.startswith("prepare")] == [
        f"prepare {first} in embedforge-tokenize" for first in (1, 3, 4)
    ]
    assert [entry for entry in log if entry.startswith("run")] == [
        "run 1 (next prepared)",
        "run 3 (next prepared)",
        "run 4",
    ]
    wait_for_next.clear()
    with pytest.raises(ValueError, match="bad chunk"):
        run_pipelined([[1], [99], [4]], prepare, run, prefetch=True)
    assert run_pipelined([], prepare, run, prefetch=True) == []


def test_chunk_schedule() -> None:
    assert chunk_sizes(0, 8) == []
    assert chunk_sizes(20, 8) == [8, 8, 4]
    assert chunk_sizes(40, 16, first=3) == [3, 6, 12, 16, 3]
    assert chunk_sizes(2, 16, first=3) == [2]
    assert chunk_sizes(30, 4, first=10) == [4] * 7 + [2]  # a first chunk larger than the cap is capped
    for total in (1, 7, 100, 1001):
        assert sum(chunk_sizes(total, 64, first=5)) == total


def test_split_chunks_reads_the_chunk_size_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "PRETOKENIZE_CHUNK", 4)
    items = list(range(11))
    assert split_chunks(items) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    assert split_chunks(items, first=1) == [[0], [1, 2], [3, 4, 5, 6], [7, 8, 9, 10]]


def test_pipeline_mode_by_device(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PipelineMode.for_device(torch.device("cpu"), 32) == PipelineMode(False, None, False)
    cuda = PipelineMode.for_device(torch.device("cuda", 0), 32)
    assert cuda == PipelineMode(prefetch=True, first_chunk=encode_pipeline.FIRST_CHUNK, pin=True)
    assert PipelineMode.for_device(torch.device("cuda"), 4096).first_chunk == 4096  # at least one batch
    monkeypatch.setattr(encode_pipeline, "PREFETCH", True)
    assert PipelineMode.for_device(torch.device("cpu"), 32).prefetch
    monkeypatch.setattr(encode_pipeline, "PREFETCH", False)
    monkeypatch.setattr(encode_pipeline, "RAMP", False)
    assert PipelineMode.for_device(torch.device("cuda"), 32) == PipelineMode(False, None, True)


def test_host_to_device_helpers_keep_values() -> None:
    assert pins_memory(torch.device("cuda")) and not pins_memory(torch.device("cpu"))
    features = {"input_ids": torch.tensor([[101, 7, 102]]), "attention_mask": torch.ones(1, 3), "prompt_length": 2}
    moved = to_device(features, torch.device("cpu"), pin=False)
    assert moved["prompt_length"] == 2
    for name in ("input_ids", "attention_mask"):
        assert torch.equal(moved[name], features[name]) and moved[name].dtype == features[name].dtype
    meta = host_to_device(torch.arange(3), torch.device("meta"), pin=False)
    assert meta.device.type == "meta" and meta.shape == (3,)
    layout = VarlenLayout.from_lengths([3, 1], 3)  # what GPU batches carry for the unpadded forward
    moved = to_device({**features, VARLEN_KEY: layout}, torch.device("meta"), pin=False)
    assert moved[VARLEN_KEY].device.type == "meta" and moved["input_ids"].device.type == "meta"
    assert moved[VARLEN_KEY].lengths == (3, 1) and moved["prompt_length"] == 2
    assert to_device({VARLEN_KEY: layout}, torch.device("cpu"))[VARLEN_KEY].cu_seqlens.tolist() == [0, 3, 4]
    rows = torch.arange(12.0).reshape(4, 3)
    order = np.array([2, 0, 3, 1])
    assert torch.equal(restore_order(rows[order], order), rows)
    assert restore_order(["c", "a", "d", "b"], order) == ["a", "b", "c", "d"]
