"""Tiny data files and recipes for the recipe, validate and train tests (words the tiny tokenizer knows)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import yaml

NOUNS = "man woman dog cat child person car ball guitar table food house beach park water grass".split()
VERBS = "plays runs sits walks eats".split()
PLACES = "street park beach house table water grass".split()


def sentence(rng: random.Random) -> str:
    """A short sentence such as ``a big man plays near the park`` (8 to 10 tokens with [CLS] and [SEP])."""
    extra = rng.choice(["", "big ", "small red ", "old blue "])
    return f"a {extra}{rng.choice(NOUNS)} {rng.choice(VERBS)} near the {rng.choice(PLACES)}"


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` (dicts with the same keys) as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def sts_rows(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``sentence1, sentence2, score, genre`` rows."""
    rng = random.Random(seed)
    return [
        {"sentence1": sentence(rng), "sentence2": sentence(rng), "score": round(rng.random(), 2), "genre": "toy"}
        for _ in range(count)
    ]


def triplet_rows(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``anchor, positive, negative`` rows."""
    rng = random.Random(seed)
    return [{"anchor": sentence(rng), "positive": sentence(rng), "negative": sentence(rng)} for _ in range(count)]


def write_beir(folder: Path) -> Path:
    """A BEIR folder: 6 documents, 4 queries, train and test qrels."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    docs = [{"_id": f"d{i}", "title": "doc", "text": sentence(rng)} for i in range(6)]
    queries = [{"_id": f"q{i}", "text": sentence(rng)} for i in range(4)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(query) + "\n" for query in queries), encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq0\td0\t1\nq0\td1\t1\nq1\td2\t1\n", encoding="utf-8"
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td3\t1\nq3\td4\t1\n", encoding="utf-8")
    return folder


def tiny_recipe(root: Path, model_path: Path, rows: int = 32) -> dict[str, Any]:
    """A complete recipe (as data) on the tiny model: STS train/dev/test CSVs under ``root``, 3 steps."""
    data = root / "data"
    write_csv(data / "train.csv", sts_rows(rows, seed=0))
    write_csv(data / "dev.csv", sts_rows(12, seed=1))
    write_csv(data / "test.csv", sts_rows(12, seed=2))
    return {
        "model": {"path": str(model_path)},
        "train_datasets": {"sts": {"path": str(data / "train.csv"), "columns": ["sentence1", "sentence2", "score"]}},
        "loss": {"name": "CoSENTLoss"},
        "evaluators": [
            {
                "name": "EmbeddingSimilarityEvaluator",
                "data": {"path": str(data / "dev.csv")},
                "args": {"name": "dev"},
                "when": ["during"],
            },
            {
                "name": "EmbeddingSimilarityEvaluator",
                "data": {"path": str(data / "test.csv")},
                "args": {"name": "test"},
                "when": ["before", "after"],
            },
        ],
        "training": {
            "max_steps": 3,
            "per_device_train_batch_size": 8,
            "learning_rate": 1e-4,
            "seed": 12,
            "eval_strategy": "steps",
            "eval_steps": 1,
            "logging_steps": 1,
            "save_strategy": "no",
            "use_cpu": True,
        },
        "output_dir": str(root / "out"),
    }


def write_recipe(path: Path, recipe: dict[str, Any]) -> Path:
    """Write a recipe dict as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path
