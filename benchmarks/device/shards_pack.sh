#!/usr/bin/env bash
# Here, before a GPU check of training from shards: pack a slice of CORPUS (3 s crops, FLAC at 16 kHz: shards are
# decoded every epoch, so not Opus) with pack.py's compact MiniLM, shard it into gpu-shards/ and put the wheels the GPU
# machine lacks into .whl/ (both ignored by git). 150 clips (9 MiB) + MiniLM (23 MiB) + wheels (2 MiB) + the
# repository (26 MiB) stay under the 64 MiB the lent machines take; shards_gpu.sh makes copies of the clips there.
# Run from the repository root with the train and data extras:
#   bash benchmarks/device/shards_pack.sh CORPUS [N_TRAIN_CLIPS]
# then on the GPU machine: bash benchmarks/device/shards_gpu.sh (carry gpu-shards and .whl).
set -euo pipefail
CORPUS=${1:?usage: $0 CORPUS [N_TRAIN_CLIPS]}
N=${2:-150}
PY=${PY:-python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf gpu-shards
$PY benchmarks/device/pack.py --corpus "$CORPUS" --out "$TMP" --train "$N" --test 0 --audio flac
$PY -m slap_edge.cli data shard "$TMP/data" --out gpu-shards/shards --shard-size 2MB
mv "$TMP/minilm" gpu-shards/minilm
mkdir -p .whl
for p in webdataset==1.0.2 braceexpand==0.1.7 pyyaml soundfile soxr cffi pycparser; do
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .whl "$p"
done
du -sh gpu-shards/shards gpu-shards/minilm .whl
du -sbc gpu-shards .whl | tail -n 1 | awk '{printf "carried: %.1f MiB\n", $1 / 1048576}'
