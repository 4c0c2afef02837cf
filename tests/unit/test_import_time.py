"""``import embedforge`` stays light: it loads no heavy dependency (torch, transformers...) until one is used.

The acceptance target is ``import embedforge`` under 2 s; wall time is printed (``pytest -s``) but not asserted,
because the shared test machines are too noisy for that. ``benchmarks/import_time.py`` measures it properly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

HEAVY_MODULES = (
    "torch",
    "transformers",
    "sentence_transformers",
    "tokenizers",
    "safetensors",
    "huggingface_hub",
    "datasets",
    "accelerate",
    "scipy",
    "sklearn",
    "pandas",
)

PROBE = """
import json, sys, time
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "modules": sorted({{name.split(".")[0] for name in sys.modules}})}}))
"""


def _fresh_import(statement: str) -> tuple[float, set[str]]:
    """Run ``statement`` in a new interpreter; return its duration and the top-level modules then loaded."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result["seconds"], set(result["modules"])


def test_import_embedforge_loads_no_heavy_dependency() -> None:
    start = time.perf_counter()
    seconds, modules = _fresh_import("import embedforge")
    process_seconds = time.perf_counter() - start
    print(f"import embedforge: {seconds:.3f} s in-process, {process_seconds:.2f} s for the whole interpreter")
    assert "embedforge" in modules
    loaded = sorted(modules.intersection(HEAVY_MODULES))
    assert not loaded, f"`import embedforge` imported {loaded}; import them lazily, where they are used."


def test_package_metadata_and_listing_stay_light() -> None:
    _, modules = _fresh_import("import embedforge; embedforge.__version__; dir(embedforge); embedforge.__all__")
    loaded = sorted(modules.intersection(HEAVY_MODULES))
    assert not loaded, f"reading embedforge.__version__/__all__ or dir() imported {loaded}."


def test_lazy_attribute_still_resolves() -> None:
    _, modules = _fresh_import("from embedforge import SentenceTransformer")
    assert "torch" in modules  # the lazy import really happens on first use
