#!/usr/bin/env bash
# Issue 16's GPU comparison, on the GPU machine, from the repository root, with .whl/ and output/gpu_data/ carried
# (made by benchmarks/gpu_prepare.sh). Under 8 minutes on one H100:
#   1. lists what the image has (torch, transformers, ST, datasets...) into $OUT/image_packages.txt;
#   2. installs the carried wheels it lacks, offline, with torch/transformers/tokenizers/numpy pinned to the image's
#      versions (pip never upgrades them); if pip's resolver cannot (e.g. torch's own requirements unmet in the
#      image), installs without dependencies the carried distributions the image lacks (and ST/datasets where their
#      versions differ), then prints what `pip check` says about them;
#   3. embedforge from src/ (PYTHONPATH; an editable install too where the image has setuptools);
#   4. random-weight bert-base and all-MiniLM-L6-v2 in output/gpu_models/ (benchmarks/random_init_model.py);
#   5. benchmarks/gpu_bench.py under a time budget (GPU_BUDGET_S, default 330 s) and a hard timeout, writing
#      $OUT/gpu_bench.json (after every run) and $OUT/gpu_bench.log.
# $OUT is set by the device tool; default output/gpu. Extra arguments go to gpu_bench.py, e.g.
#   bash benchmarks/gpu_suite.sh --ef-variants default padded
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-output/gpu}"
DATA="${GPU_DATA:-output/gpu_data}"
WHEELS="${GPU_WHEELS:-.whl}"
MODELS="${GPU_MODELS:-output/gpu_models}"
BUDGET="${GPU_BUDGET_S:-330}"
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
mkdir -p "$OUT"
step() { echo "[gpu_suite +${SECONDS}s] $*"; }

step "start on $(hostname); $($PYTHON -V 2>&1); OUT=$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/  gpu: /'
for path in "$DATA/source.json" "$DATA/models/bert-base/config.json" "$WHEELS"; do
  if [ ! -e "$path" ]; then
    step "ERROR: $path missing: run 'bash benchmarks/gpu_prepare.sh' on the CPU machine and carry .whl and $DATA"
    exit 2
  fi
done

step "1/5 image packages -> $OUT/image_packages.txt"
$PYTHON - > "$OUT/image_packages.txt" <<'EOF'
from importlib import metadata
names = ["torch", "triton", "transformers", "tokenizers", "numpy", "huggingface-hub", "safetensors", "accelerate",
         "sentence-transformers", "datasets", "pyarrow", "pandas", "dill", "multiprocess", "xxhash", "fsspec",
         "scipy", "scikit-learn", "setuptools"]
for name in names:
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(f"{name} missing")
EOF
sed 's/^/  /' "$OUT/image_packages.txt"

step "2/5 carried wheels (offline; log: $OUT/pip_install.log)"
$PYTHON - > "$OUT/constraints.txt" <<'EOF'
from importlib import metadata
pinned = {"torch", "triton", "transformers", "tokenizers", "numpy", "safetensors", "huggingface-hub", "huggingface_hub"}
for dist in metadata.distributions():
    name = dist.metadata["Name"] or ""
    if name.lower() in pinned or name.lower().startswith("nvidia-"):
        print(f"{name}=={dist.version}")
EOF
if ! $PYTHON -m pip install --no-index --find-links "$WHEELS" -c "$OUT/constraints.txt" \
    sentence-transformers==6.2.0 datasets==5.2.0 accelerate > "$OUT/pip_install.log" 2>&1; then
  step "  pip could not resolve with the image's pins (tail of the log below); installing only what is missing"
  tail -5 "$OUT/pip_install.log" | sed 's/^/    /'
  missing=$($PYTHON - "$WHEELS" <<'EOF'
import sys
from importlib import metadata
from pathlib import Path
exact = {"sentence-transformers", "datasets"}  # these two must be exactly the carried versions
for wheel in sorted(Path(sys.argv[1]).glob("*.whl")):
    name, wanted = wheel.name.split("-")[:2]
    name = name.replace("_", "-")
    try:
        found = metadata.version(name)
    except metadata.PackageNotFoundError:
        found = None
    if found is None or (name in exact and found != wanted):
        print(wheel)
EOF
)
  if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    $PYTHON -m pip install --no-index --no-deps $missing >> "$OUT/pip_install.log" 2>&1 || step "  ERROR: pip failed"
  fi
  $PYTHON -m pip check 2>&1 | grep -iE "sentence-transformers|datasets|pyarrow|dill|multiprocess|xxhash|fsspec|accelerate" \
    | head -20 | sed 's/^/  pip check: /'
fi
grep -E "^Successfully installed" "$OUT/pip_install.log" | sed 's/^/  /'

step "3/5 embedforge from src/"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if $PYTHON -c "import setuptools" 2>/dev/null; then
  $PYTHON -m pip install --no-index --no-deps --no-build-isolation -e . >> "$OUT/pip_install.log" 2>&1 \
    || step "  editable install failed; PYTHONPATH=src serves"
fi
if ! $PYTHON -c "import torch, embedforge, sentence_transformers, datasets, accelerate
print('  torch', torch.__version__, 'cuda', torch.cuda.is_available(), '| ST', sentence_transformers.__version__,
      '| datasets', datasets.__version__, '| embedforge from', embedforge.__file__)"; then
  step "ERROR: imports fail; see $OUT/pip_install.log and $OUT/image_packages.txt"
  exit 3
fi

step "4/5 random-weight models in $MODELS"
for name in minilm bert-base; do
  if [ ! -f "$MODELS/$name/model.safetensors" ]; then
    $PYTHON benchmarks/random_init_model.py "$DATA/models/$name" "$MODELS/$name" --seed 0 | sed 's/^/  /'
  fi
done

step "5/5 gpu_bench.py, budget ${BUDGET} s -> $OUT/gpu_bench.json"
timeout --kill-after=15 $((BUDGET + 90)) $PYTHON benchmarks/gpu_bench.py --device "${GPU_DEVICE:-cuda}" --data "$DATA" \
  --models "$MODELS" --budget-s "$BUDGET" --output "$OUT/gpu_bench.json" "$@" 2>&1 | tee "$OUT/gpu_bench.log"
status=${PIPESTATUS[0]}
step "done (gpu_bench exit $status; 124: hard timeout, the JSON holds every run finished before it)"
exit "$status"
