#!/bin/bash
# (f), (f2), (f3) of README.md: the 40 ms partners distilled from the fourth build's teacher, alone and averaged.
# Resumable. Needs run-c.sh's w40-partner and run-seeds.sh's w40-partner-s4.
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
X=experiments/student-window
D=work-data/third-stage
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
[ -f $D/w40-partners/soup.json ] || python -m slap_edge.train.soup $D/w40-partner $D/w40-partner-s4 \
  --weight 0.5 --weight 0.5 --out $D/w40-partners
for c in w40-partner w40-partner-s4 w40-partners; do
  [ -f $D/$c-bundle/manifest.json ] || slap-edge export --model $D/$c --out $D/$c-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
    2>&1 | tee $X/export-$c.log
  for s in test holdout real into-real; do
    f=$X/evals/$c-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $D/$c-bundle --json $f.json --markdown $f.md
  done
done
ls -la $D/w40-partner-bundle/audio.onnx $D/w40-partner-s4-bundle/audio.onnx $D/w40-partners-bundle/audio.onnx
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,language_de_vs_nl $X/evals
echo "all done $(date)"
