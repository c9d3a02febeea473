#!/bin/bash
# The second-stage student's run-to-run spread: the fourth build's (v4) and the fifth candidate's (v5) second-stage
# student distilled again with seed 2 instead of 1, everything else as in their chains (same first-stage student,
# same stage-2 teacher, same corpus), exported int8 as the chain does and scored on the four suites.
#   bash experiments/results/student-seed-spread/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
source .venv/bin/activate
export HF_HUB_OFFLINE=1
E=experiments/results/student-seed-spread
O=work-data/seed-spread
mkdir -p $O $E/evals
declare -A TEACHER=([v4]=work-data/default/teacher2 [v5]=work-data/v5/teacher2)
declare -A SUITES=([test]=work-data/default/suite-test [holdout]=work-data/default/suite-holdout \
  [real]=work-data/real-voice-dev/suite [into-real]=work-data/intonation-real/suite)
for v in v4 v5; do
  slap-edge distill --teacher ${TEACHER[$v]} --recipe $E/$v-seed2.json --data work-data/default/corpus-train2 \
    --out $O/$v-seed2 --init-from work-data/default/student --no-progress \
    --exclude-holdout work-data/default/suite-holdout/holdout.json $([ -f $O/$v-seed2/state.json ] && echo --resume)
  [ -f $O/$v-seed2-bundle/manifest.json ] || slap-edge export --model $O/$v-seed2 --out $O/$v-seed2-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration work-data/default/corpus \
    --suite work-data/default/suite-test
  for s in test holdout real into-real; do
    f=$E/evals/$v-seed2-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $O/$v-seed2-bundle --json $f.json --markdown $f.md
  done
done
echo "all done $(date)"
