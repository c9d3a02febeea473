#!/bin/bash
# The student step of README.md: the winning teacher (V=spread|vocoder) distilled into the built-in student, rebuilt
# from the built-in bundle, for 2,000 steps on its merged corpus; exported with the built-in profile and scored.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export HF_HUB_OFFLINE=1
V=${V:?V=spread or V=vocoder}
SE=.venv/bin/slap-edge
PY=.venv/bin/python
R=experiments/results/intonation-spread
D=work-data/default
W=work-data/exp-spread
HO=$D/suite-holdout/holdout.json
[ -f $W/student-builtin/state.json ] || $PY -m slap_edge.train.from_bundle default \
  --teacher train/checkpoints/default-teacher-merged --recipe train/recipes/default-student-v3.json \
  --out $W/student-builtin
$SE distill --teacher $W/teacher-$V --recipe train/recipes/student-distil-on.json --data $W/train-$V \
  --out $W/student-$V --init-from $W/student-builtin --no-progress --exclude-holdout $HO \
  $([ -f $W/student-$V/state.json ] && echo --resume)
cp $W/student-$V/metrics.csv $R/student-$V-metrics.csv
[ -f $W/bundle-$V/manifest.json ] || $SE export --model $W/student-$V --out $W/bundle-$V \
  --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
  | tee $R/bundle-$V-export.log
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite [into-$V]=$W/suite-into-$V)
for s in into-real into-$V test holdout real; do
  [ -f $R/bundle-$V-eval-$s.json ] || $SE eval --suite ${SUITES[$s]} --model $W/bundle-$V \
    --json $R/bundle-$V-eval-$s.json --markdown $R/bundle-$V-eval-$s.md
done
[ -f $R/builtin-eval-into-$V.json ] || $SE eval --suite $W/suite-into-$V --model default \
  --json $R/builtin-eval-into-$V.json --markdown $R/builtin-eval-into-$V.md
echo "student done $(date)"
