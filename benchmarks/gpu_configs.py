"""The GPU suite's configurations: issue 16's acceptance recipes (training) and the two encode workloads.

Step counts and time caps are sized so the whole suite (install, model build, both libraries, encode) stays under
8 minutes on one H100: sentence-transformers' H100 figures (``ANCHORS.md`` in the shared folder next to the
repository, kept here as ``st_h100``) give about 6 s per timed window, and a window stops early at ``max_timed_s``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """One training recipe, run by every library variant with the same data, seed and batches.

    Attributes:
        name: Key on the command line and in the JSON.
        model: Model folder name under ``--models`` (``bert-base``, ``minilm``; ``tiny`` in smoke runs).
        loss: Loss class name, the same in both libraries.
        batch_size: ``per_device_train_batch_size``.
        max_seq_length: Truncation length set on the model before training.
        data: Key of ``gpu_data.TRAIN_DATA``.
        text_columns: The data's text columns (the rest are labels).
        warmup_steps: Untimed steps at the start of every run (reported as warm-up seconds).
        steps: Timed steps at most.
        max_timed_s: The timed window ends after the first step that ends past this many seconds.
        loss_kwargs: Extra keyword arguments of the loss.
        st_h100: sentence-transformers' samples/s on one H100 (ANCHORS.md), for reference; None if not measured.
        description: One line for the report.
    """

    name: str
    model: str
    loss: str
    batch_size: int
    max_seq_length: int
    data: str
    text_columns: tuple[str, ...]
    warmup_steps: int
    steps: int
    max_timed_s: float
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    st_h100: float | None = None
    description: str = ""


@dataclass(frozen=True)
class EncodeConfig:
    """One encode workload: both libraries encode the same texts, bf16, taking turns pass by pass.

    Attributes:
        name: Key on the command line and in the JSON.
        model: Model folder name under ``--models``.
        data: Key of ``gpu_data.ENCODE_DATA``.
        max_seq_length: Truncation length.
        batch_size: ``encode(batch_size=...)``.
        repeats: Timed passes over all texts per library.
        limit: Encode only the first ``limit`` texts (None: all).
        st_h100: sentence-transformers' texts/s on one H100 (ANCHORS.md).
        description: One line for the report.
    """

    name: str
    model: str
    data: str
    max_seq_length: int
    batch_size: int
    repeats: int
    limit: int | None = None
    st_h100: float | None = None
    description: str = ""


PAIRS = ("anchor", "positive")
TRAIN_CONFIGS = (
    TrainConfig(
        "bert-mnrl-captions", "bert-base", "MultipleNegativesRankingLoss", 128, 128, "flickr-pairs", PAIRS,
        warmup_steps=5, steps=45, max_timed_s=6.0, st_h100=942.0,
        description="bert-base, MNRL, batch 128, Flickr8k caption pairs, max 128 tokens",
    ),
    TrainConfig(
        "bert-mnrl-scifact256", "bert-base", "MultipleNegativesRankingLoss", 64, 256, "scifact-pairs", PAIRS,
        warmup_steps=4, steps=30, max_timed_s=6.0, st_h100=325.0,
        description="bert-base, MNRL, batch 64, SciFact (title, abstract) pairs, max 256 tokens",
    ),
    TrainConfig(
        "minilm-mnrl-captions", "minilm", "MultipleNegativesRankingLoss", 256, 128, "flickr-pairs", PAIRS,
        warmup_steps=5, steps=45, max_timed_s=5.0, st_h100=2230.0,
        description="all-MiniLM-L6-v2, MNRL, batch 256, Flickr8k caption pairs, max 128 tokens",
    ),
    TrainConfig(
        "bert-cosent-stsb", "bert-base", "CoSENTLoss", 64, 128, "stsb-train", ("sentence1", "sentence2"),
        warmup_steps=5, steps=45, max_timed_s=5.0, st_h100=517.0,
        description="bert-base, CoSENT, batch 64, STSb train, max 128 tokens",
    ),
    TrainConfig(
        "bert-cmnrl-captions", "bert-base", "CachedMultipleNegativesRankingLoss", 1024, 128, "flickr-pairs", PAIRS,
        warmup_steps=2, steps=8, max_timed_s=8.0, loss_kwargs={"mini_batch_size": 128}, st_h100=805.0,
        description="bert-base, CachedMNRL, batch 1024, mini-batch 128, Flickr8k caption pairs, max 128 tokens",
    ),
)  # fmt: skip

ENCODE_CONFIGS = (
    EncodeConfig(
        "bert-encode-stsb", "bert-base", "stsb-test", 128, 128, repeats=5, st_h100=7366.0,
        description="bert-base bf16, STSb test sentences (both columns, 2,758 short texts), batch 128",
    ),
    EncodeConfig(
        "bert-encode-scifact256", "bert-base", "scifact-abstracts", 256, 64, repeats=3, limit=2560, st_h100=827.0,
        description="bert-base bf16, first 2,560 SciFact abstracts, max 256 tokens, batch 64",
    ),
)  # fmt: skip


def smoke_train(config: TrainConfig) -> TrainConfig:
    """The CPU smoke form: the tiny model, batch at most 16, one warm-up and one timed step."""
    kwargs = {**config.loss_kwargs}
    if "mini_batch_size" in kwargs:
        kwargs["mini_batch_size"] = 4
    return dataclasses.replace(
        config,
        model="tiny",
        batch_size=min(config.batch_size, 16),
        max_seq_length=min(config.max_seq_length, 64),
        warmup_steps=1,
        steps=1,
        max_timed_s=60.0,
        loss_kwargs=kwargs,
        description=f"smoke (tiny model, batch {min(config.batch_size, 16)}) of: {config.description}",
    )


def smoke_encode(config: EncodeConfig) -> EncodeConfig:
    """The CPU smoke form: the tiny model, 48 texts, batch 16, one timed pass."""
    return dataclasses.replace(
        config,
        model="tiny",
        max_seq_length=min(config.max_seq_length, 64),
        batch_size=16,
        repeats=1,
        limit=48,
        description=f"smoke (tiny model, 48 texts, batch 16) of: {config.description}",
    )
