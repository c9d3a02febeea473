#!/usr/bin/env bash
# Two arms of the student's second stage, exactly as train/reproduce_default.sh runs it in work-data/default
# (STUDENT2_DATA=corpus and =real), with the lead branch's code, one thread each, side by side.
set -euo pipefail
cd /work/main
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
W=work-data/default
run() {  # name data
  /work/main/.venv/bin/python /tmp/se.py distill --teacher $W/teacher \
    --recipe /work/wt-lead/train/recipes/student-distil-on.json --data "$2" --out $W/student2-$1 \
    --init-from $W/student --no-progress --exclude-holdout $W/suite-holdout/holdout.json \
    $([ -f $W/student2-$1/state.json ] && echo --resume) > work-data/exp/student2-$1.log 2>&1
}
run corpus $W/corpus &
run real $W/corpus-real &
wait
echo done
