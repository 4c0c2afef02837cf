"""The GPU suite's figures: per-config summaries (rates, ST-best, ratios, MFU, loss curves), metadata, JSON file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from gpu_flops import mfu
from gpu_train import EMBEDFORGE, ST

PACKAGES = ("torch", "transformers", "tokenizers", "sentence-transformers", "datasets", "accelerate", "embedforge")


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def embedforge_source(repo: Path, data: Path) -> dict[str, Any]:
    """The git commit: from ``git`` where the checkout has one, else the bundle's ``source.json``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        return {"commit": commit, "from": "git"}
    except (OSError, subprocess.CalledProcessError):
        pass
    source = data / "source.json"
    if source.is_file():
        return {**json.loads(source.read_text(encoding="utf-8")), "from": str(source.name)}
    return {"commit": None, "from": None}


def machine(device: str, peak: float | None) -> dict[str, Any]:
    """Card, CUDA, host and the peak the MFU figures divide by."""
    import torch

    info: dict[str, Any] = {
        "device": device,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "peak_bf16_tflops": peak,
    }
    if device.startswith("cuda"):
        properties = torch.cuda.get_device_properties(torch.device(device))
        info.update(
            gpu=torch.cuda.get_device_name(torch.device(device)),
            gpu_memory_gib=round(properties.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            nested_sdpa_backends=nested_sdpa_backends(device),
        )
    return info


def nested_sdpa_backends(device: str) -> dict[str, str]:
    """The kernel torch picks for attention over nested jagged tensors (embedforge's unpadded GPU path), per dtype and
    head size, in training (gradients, dropout 0.1): a fused one (FLASH_ATTENTION, EFFICIENT_ATTENTION, CUDNN) or
    MATH, which loops over the texts with a device sync each. Read through torch's private selector: a diagnostic."""
    import torch

    try:
        from torch.nested._internal.sdpa import _select_sdp_backend
    except ImportError as error:
        return {"error": repr(error)}
    found: dict[str, str] = {}
    offsets = torch.tensor([0, 5, 12, 30], device=device)
    for dtype in (torch.bfloat16, torch.float32):
        for head_dim in (32, 64):
            values = torch.randn(30, 4, head_dim, device=device, dtype=dtype, requires_grad=True)
            nested = torch.nested.nested_tensor_from_jagged(values, offsets, min_seqlen=5, max_seqlen=18)
            jagged = nested.transpose(1, 2)
            try:
                backend = _select_sdp_backend(jagged, jagged, jagged, None, 0.1, False, False)
                found[f"{str(dtype).removeprefix('torch.')}/head_dim {head_dim}"] = backend.name
            except Exception as error:  # a diagnostic: record what failed
                found[f"{str(dtype).removeprefix('torch.')}/head_dim {head_dim}"] = repr(error)
    return found


def versions(repo: Path, data: Path) -> dict[str, Any]:
    """Installed versions of the packages involved, and embedforge's git commit."""
    import torch

    found: dict[str, Any] = {package: version(package) for package in PACKAGES}
    found["torch"] = torch.__version__
    found["embedforge_source"] = embedforge_source(repo, data)
    return found


def _totals(runs: list[dict[str, Any]], batch_size: int) -> dict[str, Any] | None:
    """Samples/s over all completed runs of one variant (total samples / total timed seconds) and per run."""
    done = [run for run in runs if run.get("samples_per_s")]
    if not done:
        return None
    seconds = sum(run["timed_s"] for run in done)
    samples = sum(run["timed_steps"] * batch_size for run in done)
    rates = [run["samples_per_s"] for run in done]
    return {"total": samples / seconds, "per_repeat": rates, "median": statistics.median(rates)}


def _loss_gap(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Largest per-step loss difference between the first runs of two variants (same seed, same batches)."""
    if not ours or not theirs or not ours[0].get("losses") or not theirs[0].get("losses"):
        return None
    a, b = ours[0]["losses"], theirs[0]["losses"]
    steps = min(len(a), len(b))
    gaps = [abs(x - y) for x, y in zip(a[:steps], b[:steps], strict=True)]
    return {"steps_compared": steps, "max_abs_diff": max(gaps), "first_step_diff": gaps[0]}


def summarize_train(entry: dict[str, Any], peak: float | None) -> dict[str, Any]:
    """ST-best, each variant's samples/s and MFU, ratios against ST-best and against plain ST repeat by repeat."""
    batch = entry["config"]["batch_size"]
    flops = entry.get("work", {}).get("flops_per_sample")
    rates = {name: _totals(runs, batch) for name, runs in entry["runs"].items()}
    rates = {name: value for name, value in rates.items() if value is not None}
    st_rates = {name: value["total"] for name, value in rates.items() if name.startswith(ST)}
    best = max(st_rates, key=st_rates.__getitem__) if st_rates else None
    summary: dict[str, Any] = {
        "samples_per_s": rates,
        "mfu": {name: mfu(value["total"], flops, peak) for name, value in rates.items()},
        "st_best": {"variant": best, "samples_per_s": st_rates[best]} if best else None,
        "ratio_vs_st_best": {},
        "ratio_per_repeat_vs_st": {},
        "loss_curve_vs_st": {},
    }
    for name, value in rates.items():
        if not name.startswith(EMBEDFORGE):
            continue
        if best:
            summary["ratio_vs_st_best"][name] = value["total"] / st_rates[best]
        plain = rates.get(ST)
        if plain:
            pairs = zip(value["per_repeat"], plain["per_repeat"], strict=False)
            summary["ratio_per_repeat_vs_st"][name] = [ours / theirs for ours, theirs in pairs]
        summary["loss_curve_vs_st"][name] = _loss_gap(entry["runs"][name], entry["runs"].get(ST, []))
    return summary


def print_train_summary(name: str, summary: dict[str, Any]) -> None:
    """One line per variant, then the ratios."""
    for variant, value in summary["samples_per_s"].items():
        share = summary["mfu"].get(variant)
        mfu_text = f", MFU {100 * share:.2f} %" if share is not None else ""
        per_run = ", ".join(f"{rate:.1f}" for rate in value["per_repeat"])
        print(f"  {name} {variant:<32} {value['total']:9.1f} samples/s (runs: {per_run}){mfu_text}")
    for variant, ratio in summary["ratio_vs_st_best"].items():
        best = summary["st_best"]["variant"]
        gap = summary["loss_curve_vs_st"].get(variant)
        loss_text = ""
        if gap:
            loss_text = f"; loss curve vs ST: max |diff| {gap['max_abs_diff']:.3g} over {gap['steps_compared']} steps"
        print(f"  {name} {variant} / ST-best ({best}): {ratio:.3f}{loss_text}")


class ResultFile:
    """The suite's JSON document, rewritten atomically after every run (a killed run keeps what was done)."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.document = document
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(self.document, indent=2, default=str) + "\n", encoding="utf-8")
        temporary.replace(self.path)
