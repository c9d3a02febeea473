#!/bin/bash
# (g) of README.md: (e) with seed 5; (e) is (a) with the real-voice training speech merged into its second stage's data, as
# `make reproduce-default STUDENT2_DATA=intonation-real` merges it. Resumable. Needs run.sh's carried first-stage
# student (student-w40).
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
X=experiments/student-window
D=work-data/third-stage
RV=work-data/real-voice-dev
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=$RV/suite
  [into-real]=work-data/intonation-real/suite)
[ -f $D/corpus-train2-real/manifest.jsonl ] || slap-edge data merge $D/corpus-train2 $RV/corpus/all \
  --out $D/corpus-train2-real
E=$D/w40-student-real-s5
slap-edge distill --teacher train/checkpoints/default-teacher-intonation-long \
  --recipe train/recipes/student-distil-on-w40-s5.json --data $D/corpus-train2-real --out $E --init-from $D/student-w40 \
  --no-progress --exclude-holdout $D/suite-holdout/holdout.json $([ -f $E/state.json ] && echo --resume) 2>&1 \
  | tee -a $E.log
cp $E/metrics.csv $X/w40-student-real-s5-metrics.csv
c=w40-student-real-s5
[ -f $D/$c-bundle/manifest.json ] || slap-edge export --model $D/$c --out $D/$c-bundle \
  --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
  2>&1 | tee $X/export-$c.log
for s in test holdout real into-real; do
  f=$X/evals/$c-$s
  [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $D/$c-bundle --json $f.json --markdown $f.md
done
ls -la $D/$c-bundle/audio.onnx
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $X/evals
echo "all done $(date)"
