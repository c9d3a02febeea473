#!/usr/bin/env bash
# Distributed data-parallel training with torchrun: several GPUs on one machine, or several machines.
# Every process trains on its own slice of each global batch (global batch = recipe batch_size x processes);
# NCCL on GPUs, gloo on CPUs. Resuming needs the same number of processes.
#
# One machine, all its GPUs:
#   train/launch_torchrun.sh DATA_DIR RUN_DIR [RECIPE] [options]
# One machine, CPU only, 2 processes (what the tests run):
#   NPROC=2 train/launch_torchrun.sh DATA_DIR RUN_DIR train/recipes/teacher-tiny.json --device cpu
# Several machines (run on each; NODE_RANK 0..NNODES-1; MASTER_ADDR = node 0's address; same DATA path on all):
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 train/launch_torchrun.sh DATA_DIR RUN_DIR [RECIPE]
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 train/launch_torchrun.sh DATA_DIR RUN_DIR [RECIPE]
# RUN_DIR must be on a shared filesystem for multi-node runs (rank 0 writes checkpoints, every rank reads them on
# --resume), and so must the decoded-audio cache (DATA/.cache, or --cache-dir) of a corpus folder.
# DATA may be shards (slap-edge data shard): a folder holding shards.json, a brace pattern, or a pipe: command that
# streams each shard from object storage; every rank then reads only its share and nothing is cached:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 train/launch_torchrun.sh \
#     'pipe:aws s3 cp s3://bucket/corpus/train-{000000..000339}.tar -' RUN_DIR train/recipes/teacher-base.json
# See docs/training.md for what to set and what throughput to expect.
set -euo pipefail
DATA=${1:?usage: $0 DATA_DIR RUN_DIR [RECIPE] [options]}
RUN=${2:?usage: $0 DATA_DIR RUN_DIR [RECIPE] [options]}
RECIPE=${3:-train/recipes/teacher-base.json}
shift $(( $# < 3 ? $# : 3 ))
NNODES=${NNODES:-1}
NPROC=${NPROC:-$(python -c 'import torch; print(max(1, torch.cuda.device_count()))')}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ "$NNODES" -gt 1 ]; then
  RDZV=(--nnodes "$NNODES" --node-rank "${NODE_RANK:?set NODE_RANK}" --rdzv-backend c10d
        --rdzv-endpoint "${MASTER_ADDR:?set MASTER_ADDR}:${MASTER_PORT:-29500}" --rdzv-id "${RDZV_ID:-slap-edge}")
else
  RDZV=(--standalone)
fi
exec python -m torch.distributed.run "${RDZV[@]}" --nproc-per-node "$NPROC" \
  -m slap_edge.cli train --recipe "$RECIPE" --data "$DATA" --out "$RUN" "$@"
