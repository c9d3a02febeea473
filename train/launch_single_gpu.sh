#!/usr/bin/env bash
# Train on one GPU (or the CPU when there is none): one process, no torchrun needed.
#   train/launch_single_gpu.sh DATA_DIR RUN_DIR [RECIPE] [extra slap-edge train options, e.g. --resume]
set -euo pipefail
DATA=${1:?usage: $0 DATA_DIR RUN_DIR [RECIPE] [options]}
RUN=${2:?usage: $0 DATA_DIR RUN_DIR [RECIPE] [options]}
RECIPE=${3:-train/recipes/teacher-base.json}
shift $(( $# < 3 ? $# : 3 ))
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec slap-edge train --recipe "$RECIPE" --data "$DATA" --out "$RUN" "$@"
