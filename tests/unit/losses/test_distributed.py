"""gather_across_devices: MNRL on 2 gloo processes × B rows equals MNRL on one process with 2B rows.

Each rank embeds its half of the batch, gathers every rank's embeddings with gradients, and averages its own
examples' losses. Averaging the ranks' losses and parameter gradients (what DDP does) must give the loss and
gradients of one process on the whole batch, and each rank's loss must be that of its own rows (labels offset by
rank). The model is a word-embedding + mean pooling + dense model built in code: a fresh process loads it in
milliseconds, where a transformers BERT takes seconds to import on a busy 2-core machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from embedforge import SentenceTransformer
from embedforge.losses import MultipleNegativesRankingLoss
from embedforge.losses import functional as F
from embedforge.losses.distributed import all_gather, all_gather_with_grad, get_rank, get_world_size
from embedforge.models.dense import Dense
from embedforge.models.pooling import Pooling
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.word_embeddings import WordEmbeddings
from spawn_helpers import leave_group

WORLD_SIZE = 2
TEXTS = [
    [
        "a man is playing a guitar",
        "a woman is eating food outside",
        "the quick brown fox jumps",
        "two children are playing in the park",
        "what is the capital",
        "a dog runs on the beach",
    ],
    [
        "a person plays music",
        "a woman eats outside",
        "a fox jumps over a dog",
        "children play near the water",
        "the answer to the question",
        "a dog is running near the water",
    ],
    [
        "a cat sits on the table",
        "the red car is in the street",
        "an old man walks",
        "the car is blue",
        "three people sit inside the house",
        "a small cat eats",
    ],
]
CONFIGS = [
    {},
    {
        "directions": F.DIRECTIONS,
        "hardness_mode": "all_negatives",
        "hardness_strength": 2.0,
    },
    {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"},
]


def _build_model() -> SentenceTransformer:
    """The same small trainable model in every process (seeded)."""
    vocab = ["[PAD]", *sorted({word for column in TEXTS for text in column for word in text.split()})]
    generator = torch.Generator().manual_seed(0)
    embeddings = WordEmbeddings(
        WhitespaceTokenizer(vocab, stop_words=()), torch.randn(len(vocab), 16, generator=generator), True
    )
    dense = Dense(16, 16, init_weight=torch.randn(16, 16, generator=generator), init_bias=torch.zeros(16))
    return SentenceTransformer(modules=[embeddings, Pooling(16, "mean"), dense], device="cpu").eval()


def _loss_and_grads(model: SentenceTransformer, loss: MultipleNegativesRankingLoss, texts: list[list[str]]) -> tuple:
    model.zero_grad(set_to_none=True)
    value = loss([model.tokenize(column) for column in texts], None)
    value.backward()
    return value.item(), [None if p.grad is None else p.grad.clone() for p in model.parameters()]


def _gather_checks(rank: int) -> dict[str, torch.Tensor]:
    """Values and gradients of the two gathers on a small tensor."""
    local = torch.full((2, 3), float(rank), requires_grad=True)
    plain = all_gather(local)
    plain.sum().backward()
    plain_grad = local.grad.clone()
    local.grad = None
    with_grad = all_gather_with_grad(local)
    (with_grad * (get_rank() + 1)).sum().backward()
    return {"gathered": plain.detach(), "plain_grad": plain_grad, "with_grad": local.grad.clone()}


def _rank_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        model = _build_model()
        per_rank = len(TEXTS[0]) // WORLD_SIZE
        local_texts = [column[rank * per_rank : (rank + 1) * per_rank] for column in TEXTS]
        results = [
            _loss_and_grads(
                model, MultipleNegativesRankingLoss(model, gather_across_devices=True, **kwargs), local_texts
            )
            for kwargs in CONFIGS
        ]
        torch.save(
            {"results": results, "world_size": get_world_size(), **_gather_checks(rank)},
            Path(out_dir) / f"rank{rank}.pt",
        )
        leave_group()  # every rank has saved; skips the gloo teardown (see spawn_helpers)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_gather_across_two_processes_equals_one_big_batch(tmp_path: Path) -> None:
    mp.spawn(
        _rank_worker,
        args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=WORLD_SIZE,
        join=True,
    )
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]
    model = _build_model()
    with torch.no_grad():
        embeddings = [model(model.tokenize(column))["sentence_embedding"] for column in TEXTS]
    per_rank = len(TEXTS[0]) // WORLD_SIZE

    for index, kwargs in enumerate(CONFIGS):
        expected_loss, expected_grads = _loss_and_grads(model, MultipleNegativesRankingLoss(model, **kwargs), TEXTS)
        rank_losses = [rank["results"][index][0] for rank in ranks]
        assert sum(rank_losses) / WORLD_SIZE == pytest.approx(expected_loss, abs=1e-5)
        for rank, rank_loss in enumerate(rank_losses):
            own_rows = F.multiple_negatives_ranking_loss(
                embeddings[0], embeddings[1:], offset=rank * per_rank, batch_size=per_rank, **kwargs
            )
            assert rank_loss == pytest.approx(own_rows.item(), abs=1e-5)
        for position, expected in enumerate(expected_grads):
            grads = [rank["results"][index][1][position] for rank in ranks]
            if expected is None:
                assert all(grad is None for grad in grads)
                continue
            torch.testing.assert_close(sum(grads) / WORLD_SIZE, expected, atol=1e-5, rtol=0)

    for rank, result in enumerate(ranks):
        assert result["world_size"] == WORLD_SIZE
        torch.testing.assert_close(result["gathered"], torch.tensor([[0.0] * 3] * 2 + [[1.0] * 3] * 2))
        torch.testing.assert_close(result["plain_grad"], torch.ones(2, 3))
        # Every rank's slice receives the sum over ranks of its gradients: 1 + 2.
        torch.testing.assert_close(result["with_grad"], torch.full((2, 3), 3.0), msg=f"rank {rank}")


def test_helpers_without_process_group() -> None:
    tensor = torch.ones(2, 3)
    assert get_rank() == 0
    assert get_world_size() == 1
    assert all_gather(tensor) is tensor
    assert all_gather_with_grad(tensor) is tensor
