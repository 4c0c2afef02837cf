#!/usr/bin/env bash
# Prepares, on the CPU machine, what benchmarks/gpu_suite.sh needs on the GPU machine (which has no network):
#   .whl/             wheels for the GPU image's Python (3.12 by default): sentence-transformers 6.2.0, datasets 5.2.0
#                     and the dependencies of datasets an image may lack (pyarrow, dill, multiprocess, xxhash,
#                     fsspec) plus accelerate (the Trainer's); gpu_suite.sh installs only what the image lacks.
#   output/gpu_data/  the data bundle (Flickr8k pairs, STSb train/test, SciFact corpus), the weight-less model
#                     folders (minilm, bert-base) and source.json (this checkout's git commit).
# Prints the `carry` list for the device call and checks the 64 MiB limit.
#
# Usage: bash benchmarks/gpu_prepare.sh            (GPU_PYTHON=3.11 to match another image's Python)
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED="${EMBEDFORGE_DATA:-../shared/data}"
WHEELS=.whl
BUNDLE=output/gpu_data
PY_VERSION="${GPU_PYTHON:-3.12}"
LIMIT_BYTES=$((64 * 1024 * 1024))
PACKAGES=(
  sentence-transformers==6.2.0
  datasets==5.2.0
  pyarrow==26.0.1
  dill==0.4.1
  multiprocess==0.70.19
  xxhash==4.1.0
  fsspec==2026.9.0
  accelerate==1.16.0
)

echo "[gpu_prepare] wheels for CPython ${PY_VERSION} (manylinux x86_64) into ${WHEELS}/"
rm -rf "$WHEELS"
mkdir -p "$WHEELS"
pip download --quiet --no-deps --only-binary=:all: \
  --python-version "$PY_VERSION" --implementation cp --abi "cp${PY_VERSION/./}" \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$WHEELS" "${PACKAGES[@]}"
ls -l "$WHEELS"

echo "[gpu_prepare] data bundle into ${BUNDLE}/ from ${SHARED}"
rm -rf "$BUNDLE"
python benchmarks/gpu_data.py "$SHARED" "$BUNDLE"

total=$(du -sb "$WHEELS" "$BUNDLE" | awk '{sum += $1} END {print sum}')
tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | du -cb --files0-from=- | tail -1 | cut -f1)
printf '[gpu_prepare] carry: %s %s\n' "$(du -sh "$WHEELS" | cut -f1)" "$(du -sh "$BUNDLE" | cut -f1)"
printf '[gpu_prepare] carried total %.1f MiB of 64 MiB (the working tree itself: %.1f MiB)\n' \
  "$(echo "$total / 1048576" | bc -l)" "$(echo "$tree / 1048576" | bc -l)"
echo "[gpu_prepare] run(command=\"bash benchmarks/gpu_suite.sh\", carry=[\"${WHEELS}\", \"${BUNDLE}\"], timeout_s=560)"
if [ "$total" -ge "$LIMIT_BYTES" ]; then
  echo "[gpu_prepare] ERROR: ${total} bytes is over the 64 MiB carry limit" >&2
  exit 1
fi
