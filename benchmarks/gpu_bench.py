"""Issue 16's GPU acceptance benchmark: embedforge against sentence-transformers' best flags, one process, one card.

Training (``gpu_configs.TRAIN_CONFIGS``): bert-base MNRL batch 128 on Flickr8k caption pairs; bert-base MNRL batch
64 on SciFact (title, abstract) pairs at 256 tokens; all-MiniLM-L6-v2 MNRL batch 256; bert-base CoSENT batch 64 on
STSb train; bert-base CachedMNRL batch 1024 (mini-batch 128). Every variant (``gpu_train.py``: embedforge with its
defaults and any ``--ef-variants``; ST with ``bf16``, 4 data-loader workers and pinned memory; ST with
``torch_compile`` as well, for ``--st-compile`` configs) trains a fresh model from the same folder with the same
seed, so the same batches, alternating who goes first. ST-best is the faster ST variant of each config; the JSON
holds every run's samples/s, warm-up and set-up seconds, per-step losses and peak memory, and per config the
totals, ST-best, ratios, useful MFU (``gpu_flops.py``) and the largest loss-curve difference.

Encode (``gpu_configs.ENCODE_CONFIGS``): bert-base in bf16, STSb test sentences and SciFact abstracts at 256
tokens, texts/s of both libraries and the largest embedding difference (``gpu_encode.py``).

Order, so that a short budget still yields every figure once: the first repeat of every training config, then
encode, then the other repeats, then the compiled ST runs. A run starts only if the time left in ``--budget-s``
covers its estimate (the last run of the same config and variant, else the config's cap plus a margin); skipped
runs are listed in the JSON, which is rewritten after every run.

Usage::

    python benchmarks/gpu_bench.py --device cpu --smoke          # every config, 2 steps, tiny random model
    python benchmarks/gpu_bench.py --device cuda --data output/gpu_data --models output/gpu_models
    python benchmarks/gpu_bench.py --device cuda --ef-variants default padded --configs bert-mnrl-captions

On the GPU machine ``benchmarks/gpu_suite.sh`` runs it (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gpu_configs import ENCODE_CONFIGS, TRAIN_CONFIGS, EncodeConfig, TrainConfig, smoke_encode, smoke_train
from gpu_data import ENCODE_DATA, TRAIN_DATA
from gpu_encode import load_model, run_compiled_encode, run_encode
from gpu_flops import peak_tflops, training_work
from gpu_models import minilm_source, write_model_folder
from gpu_report import ResultFile, machine, print_train_summary, summarize_train, versions
from gpu_train import (
    EF_VARIANTS,
    EMBEDFORGE,
    ST,
    GlobalTorchState,
    Variant,
    import_library,
    run_once,
    st_variant,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_MODELS = REPO / "output" / "gpu_models"
CLOCK = time.perf_counter()


def log(message: str) -> None:
    print(f"[gpu_bench +{time.perf_counter() - CLOCK:5.0f}s] {message}", flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:1, cpu (smoke runs)")
    parser.add_argument("--smoke", action="store_true", help="every config for 2 steps on a tiny random model")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="the data bundle (output/gpu_data) or the shared data folder (default: $EMBEDFORGE_DATA, else "
        "<repo>/../shared/data)",
    )
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS, help="folder of bert-base/ and minilm/")
    parser.add_argument("--output", type=Path, default=None, help="JSON file (default: $OUT/gpu_bench.json)")
    parser.add_argument("--budget-s", type=float, default=330.0, help="no run starts past this many seconds")
    parser.add_argument("--repeats", type=int, default=2, help="runs per variant and training config")
    parser.add_argument(
        "--configs", nargs="*", choices=[c.name for c in TRAIN_CONFIGS], default=None, help="default: all"
    )
    parser.add_argument(
        "--encode", nargs="*", choices=[c.name for c in ENCODE_CONFIGS], default=None, help="default: all"
    )
    parser.add_argument("--ef-variants", nargs="+", choices=sorted(EF_VARIANTS), default=["default"])
    parser.add_argument(
        "--ef-encode-compiled",
        action="store_true",
        help="after each encode config, compare embedforge compiled (model.compile(dynamic=True)) with ST as well",
    )
    parser.add_argument(
        "--st-compile",
        nargs="*",
        default=["bert-mnrl-scifact256"],
        help="configs where ST also runs with torch_compile=True once (nothing: none)",
    )
    parser.add_argument("--st-workers", type=int, default=4, help="ST's dataloader_num_workers")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto", help="auto: bf16 on GPUs")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak (default: from the name)")
    parser.add_argument("--no-process-warmup", action="store_true", help="skip the untimed first runs")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.st_compile) - {config.name for config in TRAIN_CONFIGS})
    if unknown:
        parser.error(f"--st-compile: unknown configs {unknown}; known: {[c.name for c in TRAIN_CONFIGS]}")
    if args.smoke:
        args.repeats, args.st_workers, args.st_compile = 1, min(args.st_workers, 1), []
    if args.output is None:
        folder = Path(os.environ["OUT"]) if os.environ.get("OUT") else REPO / "output" / "gpu"
        args.output = folder / ("gpu_bench_smoke.json" if args.smoke else "gpu_bench.json")
    return args


class Budget:
    """Seconds left until the deadline, and per (config, variant) the last run's wall time as its estimate."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.perf_counter() + seconds
        self.estimates: dict[tuple[str, str], float] = {}

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def allows(self, key: tuple[str, str], default: float) -> bool:
        return self.left() >= self.estimates.get(key, default)

    def record(self, key: tuple[str, str], seconds: float) -> None:
        self.estimates[key] = seconds


@dataclasses.dataclass
class Suite:
    """What every section needs: arguments, libraries, the models folder, the budget and the JSON document."""

    args: argparse.Namespace
    libraries: dict[str, dict[str, Any]]
    models: Path
    budget: Budget
    results: ResultFile
    peak: float | None
    bf16: bool
    datasets: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def document(self) -> dict[str, Any]:
        return self.results.document

    def skip(self, what: str) -> None:
        self.document["skipped"].append({"what": what, "budget_left_s": round(self.budget.left(), 1)})
        log(f"skipped (budget): {what}")


def guarded(suite: Suite, what: str, function: Callable[..., dict[str, Any]], *arguments: Any) -> dict[str, Any]:
    """``function(*arguments)``; an exception is recorded in the JSON and the suite carries on (one failing run
    must not cost the other figures of a 15-minute device session), as ``{"error": ...}``."""
    try:
        return function(*arguments)
    except Exception as error:
        text = "".join(traceback.format_exception(error)[-6:])
        suite.document["errors"].append({"what": what, "error": repr(error), "traceback": text})
        log(f"ERROR in {what}: {error!r}")
        if suite.args.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
        return {"error": repr(error)}


def train_entry(suite: Suite, config: TrainConfig) -> dict[str, Any]:
    """The config's JSON entry, its dataset (built once) and useful FLOPs per sample."""
    entry = suite.document["train"].get(config.name)
    if entry is None:
        from datasets import Dataset

        rows = TRAIN_DATA[config.data](suite.args.data)
        suite.datasets[config.name] = Dataset.from_dict(rows)
        work = training_work(suite.models / config.model, rows, config.text_columns, config.max_seq_length)
        entry = {"config": dataclasses.asdict(config), "rows": len(suite.datasets[config.name]), "work": work}
        entry.update(runs={}, summary=None)
        suite.document["train"][config.name] = entry
    return entry


def train_run(suite: Suite, config: TrainConfig, variant: Variant, repeat: int) -> None:
    """One timed run (if the budget allows), appended to the config's entry; the summary refreshed."""
    entry = train_entry(suite, config)
    key = (config.name, variant.name)
    default = config.max_timed_s + (90.0 if variant.compile else 12.0)
    if not suite.budget.allows(key, default):
        suite.skip(f"train {config.name} {variant.name} repeat {repeat + 1}")
        return
    library = suite.libraries[variant.library]
    dataset = suite.datasets[config.name]
    model_dir = suite.models / config.model
    args = suite.args
    what = f"train {config.name} {variant.name} repeat {repeat + 1}"
    result = guarded(suite, what, run_once, library, variant, config, dataset, model_dir, args.device, suite.bf16)
    result["repeat"] = repeat + 1
    entry["runs"].setdefault(variant.name, []).append(result)
    if "wall_s" in result:
        suite.budget.record(key, result["wall_s"])
        rate = result["samples_per_s"] or 0.0
        log(
            f"{config.name} {variant.name} repeat {repeat + 1}: {rate:.1f} samples/s ({result['timed_steps']} steps "
            f"in {result['timed_s']:.2f} s; warm-up {result['warmup_s']:.1f} s; set-up {result['setup_s']:.1f} s)"
        )
    entry["summary"] = summarize_train(entry, suite.peak)
    suite.results.write()


def process_warmup(suite: Suite, config: TrainConfig, variants: list[Variant]) -> None:
    """Untimed short runs, one per variant, so no library's first timed run pays CUDA/cuBLAS start-up."""
    short = dataclasses.replace(config, warmup_steps=2, steps=2, max_timed_s=5.0)
    for variant in variants:
        start = time.perf_counter()
        train_entry(suite, config)
        dataset = suite.datasets[config.name]
        library = suite.libraries[variant.library]
        model_dir = suite.models / config.model
        what = f"process warm-up {variant.name}"
        result = guarded(
            suite, what, run_once, library, variant, short, dataset, model_dir, suite.args.device, suite.bf16
        )
        suite.document["process_warmup"][variant.name] = {
            "config": config.name,
            "seconds": time.perf_counter() - start,
            "error": result.get("error"),
        }
        log(f"process warm-up {variant.name}: {time.perf_counter() - start:.1f} s")
    suite.results.write()


def load_pair(folder: Path, device: str, dtype: str) -> dict[str, Any]:
    """Both libraries' models of ``folder`` in ``dtype``, and how each reached it."""
    models, how = {}, {}
    for library in (EMBEDFORGE, ST):
        models[library], how[library] = load_model(library, folder, device, dtype)
    return {"models": models, "reached_by": how}


def compiled_encode(suite: Suite, config: EncodeConfig, theirs: Any, dtype: str, texts: list[str]) -> None:
    """embedforge with ``model.compile(dynamic=True)`` against the same ST model, in a run of its own (its warm-up
    includes the compilation), so that a failing compile costs only this figure."""
    key = (config.name, "encode-compiled")
    if not suite.budget.allows(key, 90.0):
        suite.skip(f"encode {config.name} compiled")
        return
    start = time.perf_counter()
    folder = suite.models / config.model
    device = suite.args.device
    result = guarded(
        suite, f"encode {config.name} compiled", run_compiled_encode, folder, theirs, config, texts, device, dtype
    )
    suite.budget.record(key, time.perf_counter() - start)
    suite.document["encode"][config.name]["compiled"] = result
    if "ratio" in result:
        log(f"encode {config.name} compiled: embedforge/ST {result['ratio']:.3f}; agreement {result['agreement']}")
    suite.results.write()


def encode_section(suite: Suite, configs: list[EncodeConfig]) -> None:
    """Both libraries' models loaded once per folder, then every encode config."""
    dtype = "bfloat16" if suite.bf16 else "float32"
    loaded: dict[str, dict[str, Any]] = {}
    for config in configs:
        if not suite.budget.allows((config.name, "encode"), 30.0):
            suite.skip(f"encode {config.name}")
            continue
        if config.model not in loaded:
            loaded.clear()
            folder = suite.models / config.model
            loaded[config.model] = guarded(suite, f"load {config.model}", load_pair, folder, suite.args.device, dtype)
            suite.document["encode_dtype"] = {"dtype": dtype, "reached_by": loaded[config.model].get("reached_by")}
        if "models" not in loaded[config.model]:
            continue
        texts = ENCODE_DATA[config.data](suite.args.data)[: config.limit]
        log(f"encode {config.name}: {len(texts)} texts, {config.description}")
        start = time.perf_counter()
        models = loaded[config.model]["models"]
        result = guarded(suite, f"encode {config.name}", run_encode, models, config, texts, suite.args.device)
        suite.budget.record((config.name, "encode"), time.perf_counter() - start)
        suite.document["encode"][config.name] = {"config": dataclasses.asdict(config), **result}
        if "ratio" in result:
            log(f"encode {config.name}: embedforge/ST {result['ratio']:.3f}; agreement {result['agreement']}")
        suite.results.write()
        if suite.args.ef_encode_compiled and "ratio" in result:
            compiled_encode(suite, config, models[ST], dtype, texts)
    loaded.clear()
    if suite.args.device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def build_smoke_models(args: argparse.Namespace, folder: Path) -> Path:
    """The tiny random model (hidden 32, 2 layers) at ``folder/tiny``, from the bundle's or the package's MiniLM."""
    from random_init_model import main as random_init

    bundled = args.data / "models" / "minilm"
    source = bundled if (bundled / "config.json").is_file() else minilm_source()
    write_model_folder(source, folder / "tiny-config", "tiny")
    random_init([str(folder / "tiny-config"), str(folder / "tiny"), "--seed", "0"])
    return folder


def start_suite(args: argparse.Namespace, models: Path) -> Suite:
    """Metadata into the JSON, both libraries imported, the budget started."""
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but torch sees no GPU; pass --device cpu --smoke for the CPU check.")
    gpu = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else None
    peak = args.peak_tflops or peak_tflops(gpu)
    bf16 = args.precision == "bf16" or (args.precision == "auto" and args.device.startswith("cuda"))
    document: dict[str, Any] = {
        "suite": "embedforge vs sentence-transformers, issue 16 GPU acceptance (benchmarks/gpu_bench.py)",
        "command": " ".join(sys.argv),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(args.device, peak),
        "versions": versions(REPO, args.data),
        "settings": {**{k: str(v) for k, v in vars(args).items()}, "bf16": bf16},
        "imports_s": {},
        "process_warmup": {},
        "train": {},
        "encode": {},
        "skipped": [],
        "errors": [],
    }
    libraries = {}
    switches = GlobalTorchState.read()
    for name in (EMBEDFORGE, ST):
        start = time.perf_counter()
        libraries[name] = import_library(name)
        document["imports_s"][name] = time.perf_counter() - start
    document["torch_switches"] = {"before_imports": switches, "after_imports": GlobalTorchState.read()}
    log(f"{document['machine']}; versions {document['versions']}")
    results = ResultFile(args.output, document)
    results.write()
    return Suite(args, libraries, models, Budget(args.budget_s), results, peak, bf16)


def run_suite(suite: Suite) -> None:
    """Process warm-up, first repeats, encode, other repeats, compiled ST runs."""
    args = suite.args
    train = [c for c in TRAIN_CONFIGS if args.configs is None or c.name in args.configs]
    encode = [c for c in ENCODE_CONFIGS if args.encode is None or c.name in args.encode]
    if args.smoke:
        train, encode = [smoke_train(c) for c in train], [smoke_encode(c) for c in encode]
    device = args.device
    variants = [EF_VARIANTS[name] for name in args.ef_variants] + [st_variant(args.st_workers, device)]
    if train and not args.no_process_warmup:
        process_warmup(suite, train[0], variants)
    for repeat in range(args.repeats):
        for index, config in enumerate(train):
            log(f"== {config.name} repeat {repeat + 1}: {config.description}")
            order = variants if (repeat + index) % 2 == 0 else variants[::-1]
            for variant in order:
                train_run(suite, config, variant, repeat)
            if repeat == args.repeats - 1 and suite.document["train"][config.name]["summary"]:
                print_train_summary(config.name, suite.document["train"][config.name]["summary"])
        if repeat == 0:
            encode_section(suite, encode)
    compiled = st_variant(args.st_workers, device, compile_model=True)
    for config in train:
        if config.name in args.st_compile:
            train_run(suite, config, compiled, 0)
            print_train_summary(config.name, suite.document["train"][config.name]["summary"])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")  # ST's model-card widget examples bar
    import warnings

    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*warmup_ratio.*")
    with tempfile.TemporaryDirectory(prefix="gpu_bench_models_") as scratch:
        models = build_smoke_models(args, Path(scratch)) if args.smoke else args.models
        suite = start_suite(args, models)
        run_suite(suite)
    suite.document["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    suite.document["elapsed_s"] = time.perf_counter() - CLOCK
    suite.results.write()
    log(f"wrote {args.output} ({len(suite.document['errors'])} errors, {len(suite.document['skipped'])} skipped)")
    return 1 if suite.document["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
