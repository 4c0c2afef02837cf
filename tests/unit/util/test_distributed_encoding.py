"""Encoding at scale under DDP: rank 0's encoding shared by every rank inside ``distributed_evaluation``.

Two gloo processes hold the same word-embedding model. Inside ``distributed_evaluation`` rank 0 encodes through
the DistributedPool (each rank embeds one contiguous share) and must get exactly the single-process embeddings;
an evaluator run there gives the single-process metrics; a failure on rank 0 is reported on the other ranks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from embedforge import SentenceTransformer
from embedforge.evaluation import EmbeddingSimilarityEvaluator
from embedforge.model.multi_process import active_pool
from embedforge.models.pooling import Pooling
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.word_embeddings import WordEmbeddings
from embedforge.util.distributed import distributed_evaluation
from spawn_helpers import leave_group, run_ranks

WORLD_SIZE = 2
TEXTS = [f"sentence {i} about topic {i % 3} and word {i * 7 % 5}" for i in range(9)]  # 9: uneven shares


def _model() -> SentenceTransformer:
    vocab = ["[PAD]", *sorted({word for text in TEXTS for word in text.split()})]
    weights = torch.randn(len(vocab), 8, generator=torch.Generator().manual_seed(0))
    embeddings = WordEmbeddings(WhitespaceTokenizer(vocab, stop_words=()), weights, True)
    return SentenceTransformer(modules=[embeddings, Pooling(8, "mean")], device="cpu")


def _evaluator() -> EmbeddingSimilarityEvaluator:
    scores = [float(i % 5) for i in range(8)]
    return EmbeddingSimilarityEvaluator(TEXTS[:8], TEXTS[1:], scores, name="toy", show_progress_bar=False)


def _mine(model: SentenceTransformer) -> list[dict[str, Any]]:
    """Hard negatives for (text i, text i + 1) pairs among TEXTS."""
    from datasets import Dataset

    from embedforge.util import mine_hard_negatives

    pairs = Dataset.from_dict({"anchor": TEXTS[:-1], "positive": TEXTS[1:]})
    return mine_hard_negatives(pairs, model, num_negatives=2, sampling_strategy="top", verbose=False).to_list()


def _rank_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    result: dict[str, Any] = {}
    try:
        model = _model()
        forwards = []
        model.register_forward_pre_hook(lambda module, args: forwards.append(1))
        with distributed_evaluation(model) as runs:
            if runs:
                result["embeddings"] = model.encode(TEXTS, pool=active_pool(model), convert_to_tensor=True)
        result["forwards_pooled"] = len(forwards)
        forwards.clear()
        with distributed_evaluation(model) as runs:
            if runs:
                result["metrics"] = _evaluator()(model)
        result["forwards_evaluator"] = len(forwards)
        forwards.clear()
        with distributed_evaluation(model) as runs:
            if runs:
                result["mined"] = _mine(model)
        result["forwards_mining"] = len(forwards)
        try:
            with distributed_evaluation(model) as runs:
                if runs:
                    raise ValueError("evaluator broke")
        except (ValueError, RuntimeError) as error:
            result["error"] = f"{type(error).__name__}: {error}"
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
        leave_group()  # every rank has saved; skips the gloo teardown (see spawn_helpers)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("needs torch.distributed gloo")
    out = tmp_path_factory.mktemp("ddp-encode")
    run_ranks(_rank_worker, (str(out / "init"), str(out)), nprocs=WORLD_SIZE)
    return [torch.load(out / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]


def test_pooled_encode_equals_single_process(ranks: list[dict[str, Any]]) -> None:
    expected = _model().encode(TEXTS, convert_to_tensor=True)
    torch.testing.assert_close(ranks[0]["embeddings"], expected, atol=1e-6, rtol=0)
    assert "embeddings" not in ranks[1]
    assert ranks[1]["forwards_pooled"] > 0, "rank 1 did not embed its share"


def test_evaluator_metrics_equal_single_process(ranks: list[dict[str, Any]]) -> None:
    expected = _evaluator()(_model())
    assert ranks[0]["metrics"] == pytest.approx(expected, abs=1e-6)


def test_evaluator_encoding_is_shared(ranks: list[dict[str, Any]]) -> None:
    assert ranks[1]["forwards_evaluator"] > 0


def test_failure_on_rank_zero_reaches_every_rank(ranks: list[dict[str, Any]]) -> None:
    assert ranks[0]["error"] == "ValueError: evaluator broke"
    assert ranks[1]["error"].startswith("RuntimeError: Rank 0 failed")
    assert "ValueError: evaluator broke" in ranks[1]["error"]


def test_hard_negative_mining_shares_its_encoding_and_equals_single_process(ranks: list[dict[str, Any]]) -> None:
    assert ranks[1]["forwards_mining"] > 0, "rank 1 did not embed its share of the mining"
    assert ranks[0]["mined"] and ranks[0]["mined"] == _mine(_model())
