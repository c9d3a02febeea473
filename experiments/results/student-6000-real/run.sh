#!/bin/bash
# The built-in bundle's student (work-data/exp-more-voices/student-6000, 319e82097282) distilled 2,000 steps more
# (train/recipes/student-distil-on.json) from the same teacher, on its merged corpus plus the real-voice training
# speech (the train split of work-data/real-voice-dev/corpus/all: klettres, hedgewars, asterisk), as
# `make reproduce-default STUDENT2_RECIPE=train/recipes/student-distil-on.json STUDENT2_DATA=real` runs it.
# Exported with the built-in profile and scored on the built-in bundle's suites and the real-voice dev suite.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export HF_HUB_OFFLINE=1
SE=.venv/bin/slap-edge
R=experiments/results/student-6000-real
W=work-data/exp-more-voices
D=work-data/default
HO=$D/suite-holdout/holdout.json
[ -f $W/corpus-real/manifest.jsonl ] || $SE data merge $W/corpus work-data/real-voice-dev/corpus/all --out $W/corpus-real
$SE distill --teacher $W/teacher --recipe train/recipes/student-distil-on.json --data $W/corpus-real \
  --out $W/student-6000-real --init-from $W/student-6000 --no-progress --exclude-holdout $HO \
  $([ -f $W/student-6000-real/state.json ] && echo --resume)
[ -f $W/bundle-6000-real/manifest.json ] || $SE export --model $W/student-6000-real --out $W/bundle-6000-real \
  --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
  | tee $R/export.log
for s in test holdout; do
  [ -f $R/bundle-eval-$s.json ] || $SE eval --suite $D/suite-$s --model $W/bundle-6000-real \
    --json $R/bundle-eval-$s.json --markdown $R/bundle-eval-$s.md
done
[ -f $R/bundle-eval-real.json ] || $SE eval --suite work-data/real-voice-dev/suite --model $W/bundle-6000-real \
  --json $R/bundle-eval-real.json --markdown $R/bundle-eval-real.md
cp $W/student-6000-real/metrics.csv $R/student-metrics.csv
echo "done $(date)"
