"""``embedforge env``: Python, platform, package versions and torch devices, to paste into bug reports.

Only the standard library is imported at module import; torch is imported inside :func:`run` (and only if it is
installed), so the command stays quick.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata, util
from typing import Any

from embedforge.cli.output import Console, add_output_options

__all__ = ["PACKAGES", "add_parser", "collect", "run"]

PACKAGES = (
    "embedforge",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "accelerate",
    "huggingface_hub",
    "sentence-transformers",
)
"""Distributions whose versions are reported."""

NOT_INSTALLED = "not installed"

EXAMPLES = """examples:
  embedforge env
  embedforge env --json > env.json
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``env``."""
    parser = subparsers.add_parser(
        "env",
        help="print versions and devices (for bug reports)",
        description="Print the Python and platform, the versions of embedforge and the libraries it builds on, "
        "and the devices torch can use. Paste the output into bug reports.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Print the environment report (one ``env`` event in JSON mode). Always returns 0."""
    console = Console.from_args(args)
    report = collect()
    console.result(render(report), event="env", **report)
    return 0


def collect() -> dict[str, Any]:
    """The environment: ``python``, ``platform``, ``packages`` (name to version) and ``devices``."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "devices": torch_devices(),
    }


def package_version(name: str) -> str:
    """Installed version of distribution ``name``, or ``"not installed"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def torch_devices() -> dict[str, Any]:
    """CPU threads, CUDA (version, GPU names) and MPS availability as torch sees them (empty without torch)."""
    if util.find_spec("torch") is None:
        return {}
    import torch

    cuda = torch.cuda.is_available()
    return {
        "cpu_threads": torch.get_num_threads(),
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())] if cuda else [],
        "mps_available": torch.backends.mps.is_available(),
    }


def render(report: dict[str, Any]) -> str:
    """The report as aligned ``key: value`` lines."""
    lines = [
        f"{'python':<24}{report['python']}",
        f"{'platform':<24}{report['platform']}",
        f"{'cpu count':<24}{report['cpu_count']}",
    ]
    lines += [f"{name:<24}{version}" for name, version in report["packages"].items()]
    devices = report["devices"]
    if not devices:
        lines.append(f"{'devices':<24}unknown (torch {NOT_INSTALLED})")
    for key, value in devices.items():
        shown = (", ".join(value) or "none") if isinstance(value, list) else value
        lines.append(f"{key.replace('_', ' '):<24}{shown}")
    return "\n".join(lines)
