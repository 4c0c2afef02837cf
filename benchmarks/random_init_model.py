"""Write a copy of a sentence-transformers model folder whose transformer weights are freshly initialised.

Throughput does not depend on the weights' values, only on the architecture, the tokenizer and the data. Where
a model's weights cannot travel (the GPU machine's transfer limit is below all-MiniLM-L6-v2's 87 MiB), copy
the folder without ``model.safetensors`` (config, tokenizer, modules.json, pooling...) and rebuild the weights
there with this script; both libraries then load the same folder.

Usage::

    python benchmarks/random_init_model.py SOURCE_FOLDER TARGET_FOLDER [--seed 0]

``SOURCE_FOLDER`` needs the transformers ``config.json`` at its root (an ST folder whose first module is a
Transformer at the root, as all-MiniLM-L6-v2); a ``model.safetensors`` there is ignored.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.source / "config.json").is_file():
        raise SystemExit(f"{args.source}/config.json not found: SOURCE_FOLDER must hold the transformers config.")
    import torch
    from transformers import AutoConfig, AutoModel

    shutil.copytree(args.source, args.target, ignore=shutil.ignore_patterns(*WEIGHT_FILES), dirs_exist_ok=True)
    torch.manual_seed(args.seed)
    model = AutoModel.from_config(AutoConfig.from_pretrained(args.source))
    model.save_pretrained(args.target)
    print(f"wrote {args.target} ({sum(p.numel() for p in model.parameters()):,} freshly initialised parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
