"""Write a copy of a sentence-transformers model folder whose transformer weights are freshly initialised.

Throughput does not depend on the weights' values, only on the architecture, the tokenizer and the data. Where
a model's weights cannot travel (the GPU machine's transfer limit is below all-MiniLM-L6-v2's 87 MiB), copy
the folder without ``model.safetensors`` (config, tokenizer, modules.json, pooling...) and rebuild the weights
there with this script; both libraries then load the same folder.

``--architecture`` rebuilds the encoder as another architecture of the same size (layers, hidden size, heads,
intermediate size, vocabulary) with the source's tokenizer, e.g. an MPNet, RoBERTa or ModernBERT as large as
all-MiniLM-L6-v2: the training benchmark then compares the libraries on those architectures' code paths. Token ids
keep the source tokenizer's meaning (padding 0 where the architecture lets the config choose; MPNet fixes its
padding index at 1, an id the BERT vocabulary never emits, which changes no real token's position).

Usage::

    python benchmarks/random_init_model.py SOURCE_FOLDER TARGET_FOLDER [--seed 0] [--architecture mpnet]

``SOURCE_FOLDER`` needs the transformers ``config.json`` at its root (an ST folder whose first module is a
Transformer at the root, as all-MiniLM-L6-v2); a ``model.safetensors`` there is ignored.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
ARCHITECTURES = ("bert", "roberta", "xlm-roberta", "mpnet", "modernbert", "distilbert", "deberta-v2")


def architecture_config(source: Any, model_type: str) -> Any:
    """A ``model_type`` config with the sizes and vocabulary of the BERT-like ``source`` config."""
    from transformers import AutoConfig

    sizes: dict[str, Any] = {
        "hidden_size": source.hidden_size,
        "num_hidden_layers": source.num_hidden_layers,
        "num_attention_heads": source.num_attention_heads,
        "intermediate_size": source.intermediate_size,
        "max_position_embeddings": source.max_position_embeddings,
    }
    if model_type == "distilbert":
        sizes = {
            "dim": source.hidden_size, "n_layers": source.num_hidden_layers, "n_heads": source.num_attention_heads,
            "hidden_dim": source.intermediate_size, "max_position_embeddings": source.max_position_embeddings,
        }  # fmt: skip
    if model_type in ("roberta", "xlm-roberta", "mpnet"):  # positions counted after the padding index
        sizes["max_position_embeddings"] += 2
    if model_type == "modernbert":  # the special tokens must be ids of the source vocabulary
        cls_id, sep_id = 101, 102
        sizes.update(cls_token_id=cls_id, sep_token_id=sep_id, bos_token_id=cls_id, eos_token_id=sep_id)
    if model_type == "deberta-v2":  # DeBERTa-v3's attention settings (deberta-v3-base's config)
        sizes.update(
            relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=256, max_relative_positions=-1,
            share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0,
        )  # fmt: skip
    if model_type != "mpnet":
        sizes["pad_token_id"] = source.pad_token_id
    return AutoConfig.for_model(model_type, vocab_size=source.vocab_size, **sizes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--architecture", choices=ARCHITECTURES, default=None, help="rebuild as this architecture, same sizes"
    )
    args = parser.parse_args(argv)
    if not (args.source / "config.json").is_file():
        raise SystemExit(f"{args.source}/config.json not found: SOURCE_FOLDER must hold the transformers config.")
    import torch
    from transformers import AutoConfig, AutoModel

    shutil.copytree(args.source, args.target, ignore=shutil.ignore_patterns(*WEIGHT_FILES), dirs_exist_ok=True)
    torch.manual_seed(args.seed)
    config = AutoConfig.from_pretrained(args.source)
    if args.architecture is not None and args.architecture != config.model_type:
        config = architecture_config(config, args.architecture)
    model = AutoModel.from_config(config)
    model.save_pretrained(args.target)
    print(f"wrote {args.target} ({sum(p.numel() for p in model.parameters()):,} freshly initialised parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
