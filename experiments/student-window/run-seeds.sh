#!/bin/bash
# Second seeds of (a) and (c), and the four-student soup (d) of README.md. Resumable. Needs run.sh's carried
# first-stage student (student-w40), (a) (w40-student-s2) and run-c.sh's partner (w40-partner).
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
X=experiments/student-window
D=work-data/third-stage
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
distil() {  # run folder, teacher, recipe
  slap-edge distill --teacher $2 --recipe train/recipes/$3 --data $D/corpus-train2 --out $1 --init-from $D/student-w40 \
    --no-progress --exclude-holdout $D/suite-holdout/holdout.json $([ -f $1/state.json ] && echo --resume) 2>&1 \
    | tee -a $1.log
}
A2=$D/w40-student-s3
P2=$D/w40-partner-s4
distil $A2 train/checkpoints/default-teacher-intonation-long student-distil-on-w40-s3.json
cp $A2/metrics.csv $X/w40-student-s3-metrics.csv
distil $P2 train/checkpoints/default-teacher-intonation student-distil-on-w40-s4.json
cp $P2/metrics.csv $X/w40-partner-s4-metrics.csv
[ -f $D/w40-soup-c2/soup.json ] || python -m slap_edge.train.soup $P2 $A2 --weight 0.75 --weight 0.25 \
  --out $D/w40-soup-c2
[ -f $D/w40-soup-d/soup.json ] || python -m slap_edge.train.soup $D/w40-partner $P2 $D/w40-student-s2 $A2 \
  --weight 0.375 --weight 0.375 --weight 0.125 --weight 0.125 --out $D/w40-soup-d
for c in w40-student-s3 w40-soup-c2 w40-soup-d; do
  [ -f $D/$c-bundle/manifest.json ] || slap-edge export --model $D/$c --out $D/$c-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
    2>&1 | tee $X/export-$c.log
  for s in test holdout real into-real; do
    f=$X/evals/$c-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $D/$c-bundle --json $f.json --markdown $f.md
  done
done
ls -la $D/w40-student-s3-bundle/audio.onnx $D/w40-soup-c2-bundle/audio.onnx $D/w40-soup-d-bundle/audio.onnx
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $X/evals
echo "all done $(date)"
