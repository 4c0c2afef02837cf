"""gather_across_devices on 2 gloo processes: CachedMNRL, GISTEmbedLoss and CachedGISTEmbedLoss.

Each rank embeds its half of the batch and gathers the other ranks' embeddings with gradients. Averaging the
ranks' losses and parameter gradients (what DDP does) must give one process's loss and gradients on the whole
batch (2B rows), within 1e-5. The models run in float64 so that the comparison sees the gathering, not float32
summation order (GIST's temperature of 0.01 multiplies that noise by 100).

GIST gathers the candidates (positives, negatives), not the anchors, as sentence-transformers 6.2 does: its
anchor–anchor block (``contrast_anchors=True``, the default) then holds only the rank's own anchors, so the
2-process loss equals one process on 2B rows exactly when ``contrast_anchors=False``. With it, each rank's loss is
checked against the reference formula on its own anchors and every rank's candidates.

CachedMNRL runs on a word-embedding model built in code; the GIST losses need transformers tokenizers (the guide
may retokenize), so they run on the tiny BERT of ``tests/conftest.py`` (model) and a perturbed copy (guide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch import nn

from embedforge import SentenceTransformer
from embedforge.losses import CachedGISTEmbedLoss, CachedMultipleNegativesRankingLoss, GISTEmbedLoss
from embedforge.losses.functional import DIRECTIONS
from embedforge.losses.functional.gist import gist_loss
from embedforge.models.dense import Dense
from embedforge.models.pooling import Pooling
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.word_embeddings import WordEmbeddings
from spawn_helpers import leave_group, run_ranks

WORLD_SIZE = 2
TEXTS = [
    ["a man is playing a guitar", "a woman is eating food", "the quick brown fox", "two children play",
     "what is the capital", "a dog runs on the beach", "a bird sings", "the sun is hot"],
    ["a person plays music", "a woman eats outside", "a fox jumps", "children play near the water",
     "the answer is here", "a dog is running", "a small bird sings loudly", "it is a hot day"],
    ["a cat sits on the table", "the red car", "an old man walks", "the car is blue",
     "three people sit inside", "a small cat eats", "the cold rain", "the moon at night"],
]  # fmt: skip
PER_RANK = len(TEXTS[0]) // WORLD_SIZE


def _build_model(seed: int, dim: int = 16) -> SentenceTransformer:
    """A seeded word-embedding + mean pooling + dense model (loads in milliseconds in a fresh process)."""
    vocab = ["[PAD]", *sorted({word for column in TEXTS for text in column for word in text.split()})]
    generator = torch.Generator().manual_seed(seed)
    embeddings = WordEmbeddings(
        WhitespaceTokenizer(vocab, stop_words=()), torch.randn(len(vocab), dim, generator=generator), True
    )
    dense = Dense(dim, dim, init_weight=torch.randn(dim, dim, generator=generator), init_bias=torch.zeros(dim))
    model = SentenceTransformer(modules=[embeddings, Pooling(dim, "mean"), dense], device="cpu")
    return model.to(torch.float64).eval()


def _bert_pair(path: str) -> tuple[SentenceTransformer, SentenceTransformer]:
    """The tiny BERT (eval mode: no dropout) and a guide whose weights are perturbed with a fixed seed."""
    model = SentenceTransformer(path, device="cpu").to(torch.float64).eval()
    guide = SentenceTransformer(path, device="cpu").to(torch.float64).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in guide.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    return model, guide


def _models(name: str, bert_path: str) -> tuple[SentenceTransformer, SentenceTransformer | None]:
    return (_build_model(0), None) if name.startswith("cmnrl") else _bert_pair(bert_path)


def _loss(name: str, model: SentenceTransformer, guide: SentenceTransformer | None, gather: bool) -> nn.Module:
    """The loss under test called ``name`` (every rank and the reference build it alike)."""
    factories = {
        "cmnrl": lambda: CachedMultipleNegativesRankingLoss(model, mini_batch_size=3, gather_across_devices=gather),
        "cmnrl_symmetric_hard": lambda: CachedMultipleNegativesRankingLoss(
            model,
            mini_batch_size=2,
            directions=DIRECTIONS,
            hardness_mode="all_negatives",
            hardness_strength=2.0,
            gather_across_devices=gather,
        ),
        "gist": lambda: GISTEmbedLoss(model, guide, contrast_anchors=False, gather_across_devices=gather),
        "gist_margin": lambda: GISTEmbedLoss(
            model, guide, margin_strategy="relative", margin=0.05, contrast_anchors=False, gather_across_devices=gather
        ),
        "cached_gist": lambda: CachedGISTEmbedLoss(
            model, guide, mini_batch_size=3, contrast_anchors=False, gather_across_devices=gather
        ),
        "gist_contrast_anchors": lambda: GISTEmbedLoss(model, guide, gather_across_devices=gather),
        "cached_gist_contrast_anchors": lambda: CachedGISTEmbedLoss(
            model, guide, mini_batch_size=3, gather_across_devices=gather
        ),
    }
    return factories[name]()


def _loss_and_grads(model: SentenceTransformer, loss: nn.Module, texts: list[list[str]]) -> tuple[float, list]:
    model.zero_grad(set_to_none=True)
    value = loss([model.tokenize(column) for column in texts], None)
    value.backward()
    return value.item(), [None if p.grad is None else p.grad.clone() for p in model.parameters()]


NAMES = (
    "cmnrl",
    "cmnrl_symmetric_hard",
    "gist",
    "gist_margin",
    "cached_gist",
    "gist_contrast_anchors",
    "cached_gist_contrast_anchors",
)


def _rank_worker(rank: int, init_file: str, out_dir: str, bert_path: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        local = [column[rank * PER_RANK : (rank + 1) * PER_RANK] for column in TEXTS]
        results = {}
        bert = _bert_pair(bert_path)  # only gradients are computed: the models can be shared by the losses
        for name in NAMES:
            model, guide = (_build_model(0), None) if name.startswith("cmnrl") else bert
            results[name] = _loss_and_grads(model, _loss(name, model, guide, True), local)
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
        leave_group()  # every rank has saved; skips the gloo teardown (see spawn_helpers)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def bert_path(_tiny_bert_session: Path) -> str:
    return str(_tiny_bert_session)


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory: pytest.TempPathFactory, bert_path: str) -> list[dict[str, Any]]:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("needs torch.distributed gloo")
    out = tmp_path_factory.mktemp("gather")
    run_ranks(_rank_worker, (str(out / "init"), str(out), bert_path), nprocs=WORLD_SIZE)
    return [torch.load(out / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]


@pytest.mark.parametrize("name", ["cmnrl", "cmnrl_symmetric_hard", "gist", "gist_margin", "cached_gist"])
def test_two_ranks_equal_one_process_with_the_whole_batch(
    rank_results: list[dict[str, Any]], bert_path: str, name: str
) -> None:
    model, guide = _models(name, bert_path)
    expected_loss, expected_grads = _loss_and_grads(model, _loss(name, model, guide, False), TEXTS)
    ranks = [result[name] for result in rank_results]
    assert sum(loss for loss, _ in ranks) / WORLD_SIZE == pytest.approx(expected_loss, abs=1e-5)
    for position, expected in enumerate(expected_grads):
        grads = [grads[position] for _, grads in ranks]
        if expected is None:  # e.g. BERT's pooler, which mean pooling does not use
            assert all(grad is None for grad in grads)
            continue
        torch.testing.assert_close(sum(grads) / WORLD_SIZE, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["gist_contrast_anchors", "cached_gist_contrast_anchors"])
def test_gist_contrasts_only_the_ranks_own_anchors(
    rank_results: list[dict[str, Any]], bert_path: str, name: str
) -> None:
    """As in sentence-transformers 6.2: candidates come from every rank, anchor–anchor negatives from this rank."""
    model, guide = _models(name, bert_path)
    with torch.no_grad():
        embeddings = [model(model.tokenize(column))["sentence_embedding"] for column in TEXTS]
        guided = [guide(guide.tokenize(column))["sentence_embedding"] for column in TEXTS]
    whole_batch, _ = _loss_and_grads(model, _loss(name, model, guide, False), TEXTS)
    for rank, result in enumerate(rank_results):
        own = slice(rank * PER_RANK, (rank + 1) * PER_RANK)
        expected = gist_loss(
            embeddings[0][own], embeddings[1:], guided[0][own], guided[1:], temperature=0.01, offset=own.start
        )
        assert result[name][0] == pytest.approx(expected.item(), abs=1e-5)
    # The whole batch has more anchor negatives, so the values differ: the test above is not vacuous.
    assert sum(result[name][0] for result in rank_results) / WORLD_SIZE != pytest.approx(whole_batch, abs=1e-5)
