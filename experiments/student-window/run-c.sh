#!/bin/bash
# Candidate (c) of README.md: the fourth build's second stage at 40 ms, averaged with (a). Resumable. Needs run.sh's
# carried first-stage student (student-w40) and (a) (w40-student-s2).
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
X=experiments/student-window
D=work-data/third-stage
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
P=$D/w40-partner
slap-edge distill --teacher train/checkpoints/default-teacher-intonation --recipe train/recipes/student-distil-on-w40.json \
  --data $D/corpus-train2 --out $P --init-from $D/student-w40 --no-progress \
  --exclude-holdout $D/suite-holdout/holdout.json $([ -f $P/state.json ] && echo --resume) 2>&1 | tee -a $P.log
cp $P/metrics.csv $X/w40-partner-metrics.csv
[ -f $D/w40-soup-c/soup.json ] || python -m slap_edge.train.soup $P $D/w40-student-s2 --weight 0.75 --weight 0.25 \
  --out $D/w40-soup-c
for c in w40-soup-c; do
  [ -f $D/$c-bundle/manifest.json ] || slap-edge export --model $D/$c --out $D/$c-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
    2>&1 | tee $X/export-$c.log
  for s in test holdout real into-real; do
    f=$X/evals/$c-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $D/$c-bundle --json $f.json --markdown $f.md
  done
done
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $X/evals
echo "all done $(date)"
