"""Import time of embedforge vs sentence-transformers, each in fresh interpreters (median of several runs).

For each statement, every run starts a new Python process, times the statement inside it (``import only``), and
also times the whole process (interpreter start-up included); peak memory (max RSS) of the process is reported.

Usage::

    python benchmarks/import_time.py
    python benchmarks/import_time.py --runs 9 --statement "from embedforge import SentenceTransformer"
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

DEFAULT_STATEMENTS = (
    "import embedforge",
    "from embedforge import SentenceTransformer",
    "import sentence_transformers",
    "from sentence_transformers import SentenceTransformer",
)

PROBE = """
import json, resource, time
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per statement")
    parser.add_argument(
        "--statement",
        action="append",
        default=None,
        help="Python statement to time (repeatable; default: the plain and the SentenceTransformer import of each)",
    )
    return parser.parse_args(argv)


def one_run(statement: str) -> tuple[float, float, float]:
    """Import seconds inside the process, whole-process seconds, and max RSS in MiB."""
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement)],
        capture_output=True,
        text=True,
        check=False,
    )
    process_seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"`{statement}` failed in a fresh interpreter:\n{completed.stderr}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result["seconds"], process_seconds, result["max_rss_kib"] / 1024


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    statements = args.statement or list(DEFAULT_STATEMENTS)
    one_run("pass")  # warm the file-system cache for the interpreter itself
    print(f"python {sys.version.split()[0]}; median of {args.runs} fresh interpreters per statement")
    print(f"{'statement':<53} {'import s':>9} {'process s':>10} {'max RSS MiB':>12}   all import s")
    for statement in statements:
        runs = [one_run(statement) for _ in range(args.runs)]
        imports, processes, memory = (list(column) for column in zip(*runs, strict=True))
        print(
            f"{statement:<53} {statistics.median(imports):9.3f} {statistics.median(processes):10.2f} "
            f"{statistics.median(memory):12.0f}   {', '.join(f'{value:.3f}' for value in imports)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
