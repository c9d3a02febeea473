#!/bin/bash
# (e) of README.md (bash run-real.sh, seed 2) and (g) (bash run-real.sh 5): (a) with the real-voice training speech
# merged into its second stage's data, as `make reproduce-default STUDENT2_DATA=intonation-real` merges it, with
# train/recipes/student-distil-on-w40-sSEED.json. Resumable. Needs run.sh's carried first-stage student (student-w40).
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
source benchmarks/pipeline/candidate.sh
set -eo pipefail
SEED=${1:-2}
X=experiments/student-window
D=work-data/third-stage
RV=work-data/real-voice-dev
[ -f $D/corpus-train2-real/manifest.jsonl ] || slap-edge data merge $D/corpus-train2 $RV/corpus/all \
  --out $D/corpus-train2-real
c=w40-student-real-s$SEED
slap-edge distill --teacher train/checkpoints/default-teacher-intonation-long \
  --recipe train/recipes/student-distil-on-w40-s$SEED.json --data $D/corpus-train2-real --out $D/$c \
  --init-from $D/student-w40 --no-progress --exclude-holdout $D/suite-holdout/holdout.json \
  $([ -f $D/$c/state.json ] && echo --resume) 2>&1 | tee -a $D/$c.log
cp $D/$c/metrics.csv $X/$c-metrics.csv
score_candidate $c
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $X/evals
echo "all done $(date)"
