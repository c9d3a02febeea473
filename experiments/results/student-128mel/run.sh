#!/bin/bash
# A first-stage student with 128 mels instead of 64 (patches 128x4; otherwise the third build's student recipe,
# default-student-v3.json: 6,000 steps), distilled from the same packed teacher on the same merged corpus as the
# built-in chain's first stage. Resumable: run it again after an interruption. Then score it on the chain's suites.
#   bash experiments/results/student-128mel/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
source .venv/bin/activate
export HF_HUB_OFFLINE=1
E=experiments/results/student-128mel
D=work-data/default
O=work-data/student-128mel
mkdir -p $O $E/evals
[ -f $D/teacher/config.json ] || cp -r train/checkpoints/default-teacher-merged $D/teacher
slap-edge distill --teacher $D/teacher --recipe $E/stage1.json --data $D/corpus-train --out $O/student --no-progress \
  --exclude-holdout $D/suite-holdout/holdout.json $([ -f $O/student/state.json ] && echo --resume)
for s in test holdout; do
  # the built-in chain's first-stage student (64 mels; the third build, rebuilt by reproduce_default.sh STUDENT=packed)
  f=$E/evals/baseline-64mel-$s
  [ -f $f.json ] || slap-edge eval --suite $D/suite-$s --model $D/student --json $f.json --markdown $f.md
  f=$E/evals/stage1-$s
  [ -f $f.json ] || slap-edge eval --suite $D/suite-$s --model $O/student --json $f.json --markdown $f.md
done
echo "all done $(date)"
