#!/bin/bash
# The intonation lever (issue 22, item 3): the built-in bundle's teacher and student trained on from their weights,
# 2,000 steps each, on their merged corpus plus a 12,000-clip corpus with the intonation attribute
# (`data synth --intonation vocoder`, seed 12, 3,000 speakers of their own). Exported with the built-in profile and
# scored on the built-in bundle's suites, the real-voice dev suite, an intonation suite from the new corpus
# (held-out speakers and held-out voices) and the real-voice intonation suite (benchmarks/intonation_real_suite.py).
# Resumable: every stage skips what is done.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export HF_HUB_OFFLINE=1
SE=.venv/bin/slap-edge
PY=.venv/bin/python
R=experiments/results/intonation-tune
M=work-data/exp-more-voices
W=work-data/exp-intonation
D=work-data/default
HO=$D/suite-holdout/holdout.json
HOLDOUT=voice=mb-us1,voice=mb-us3,voice=mb-fr4,voice=mb-fr1,voice=mb-de5,voice=mb-nl2
$SE data synth --out $W/corpus-into --clips 12000 --speakers 3000 --seed 12 --jobs 2 --intonation vocoder
$SE data stats $W/corpus-into > $R/corpus-into-stats.txt
[ -f $W/corpus-train/manifest.jsonl ] || $SE data merge $M/corpus $W/corpus-into --id-prefix '' --id-prefix in \
  --out $W/corpus-train
[ -f $W/suite-into-holdout/suite.json ] || $SE data suite --from $W/corpus-into --out $W/suite-into-holdout \
  --holdout-voices "$HOLDOUT" --seed 12
[ -f $W/suite-into-test/suite.json ] || $SE data suite --from $W/corpus-into --out $W/suite-into-test --seed 12 \
  --exclude-holdout $W/suite-into-holdout/holdout.json
[ -f work-data/intonation-real/suite/suite.json ] || $PY benchmarks/intonation_real_suite.py \
  --corpus work-data/real-voice-dev/corpus/all/manifest.jsonl --out work-data/intonation-real/suite
$SE train --recipe train/recipes/teacher-tune-intonation.json --data $W/corpus-train --out $W/teacher \
  --init-from $M/teacher --no-progress --exclude-holdout $HO $([ -f $W/teacher/state.json ] && echo --resume)
$SE distill --teacher $W/teacher --recipe train/recipes/student-distil-on.json --data $W/corpus-train \
  --out $W/student --init-from $M/student-6000 --no-progress --exclude-holdout $HO \
  $([ -f $W/student/state.json ] && echo --resume)
[ -f $W/bundle/manifest.json ] || $SE export --model $W/student --out $W/bundle \
  --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
  | tee $R/export.log
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-test]=$W/suite-into-test [into-holdout]=$W/suite-into-holdout [into-real]=work-data/intonation-real/suite)
for s in test holdout real into-test into-holdout into-real; do
  for m in teacher bundle; do
    [ -f $R/$m-eval-$s.json ] || $SE eval --suite ${SUITES[$s]} --model $W/$m --json $R/$m-eval-$s.json \
      --markdown $R/$m-eval-$s.md
  done
  # The built-in bundle's own figures on the three suites of record are in benchmarks/results/default-bundle-v3/.
  [[ $s == into-* ]] || continue
  [ -f $R/builtin-eval-$s.json ] || $SE eval --suite ${SUITES[$s]} --model default --json $R/builtin-eval-$s.json \
    --markdown $R/builtin-eval-$s.md
done
cp $W/teacher/metrics.csv $R/teacher-metrics.csv
cp $W/student/metrics.csv $R/student-metrics.csv
echo "done $(date)"
