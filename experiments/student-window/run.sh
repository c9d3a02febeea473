#!/bin/bash
# The 40 ms window A/B (README.md). Resumable: every step skips what it finds done. The work folder's corpora,
# suites, first-stage student (from_bundle of train/checkpoints/default-student-v3) and the rebuilt fourth-build student
# (soup-with) were made by benchmarks/results/default-bundle-v9/pipeline.sh and default-bundle-v10/pipeline.sh.
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
X=experiments/student-window
D=work-data/third-stage
PACKED=train/checkpoints/default-teacher-intonation-long
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
mkdir -p $X/evals
[ -f $D/student-w40/inflate.json ] || python -m slap_edge.train.inflate_mels $D/student \
  --recipe train/recipes/default-student-v3-w40.json --out $D/student-w40 --fit-data $D/corpus
cp $D/student-w40/inflate.json $X/inflate-first-stage.json
S=$D/w40-student-s2
slap-edge distill --teacher $PACKED --recipe train/recipes/student-distil-on-w40-s2.json --data $D/corpus-train2 \
  --out $S --init-from $D/student-w40 --no-progress --exclude-holdout $D/suite-holdout/holdout.json \
  $([ -f $S/state.json ] && echo --resume) 2>&1 | tee -a $S.log
cp $S/metrics.csv $X/w40-student-s2-metrics.csv
# (b): the fourth-build student carried to 40 ms by the same fit, averaged with (a) at 0.25 on (a).
[ -f $D/soup-with-w40/inflate.json ] || python -m slap_edge.train.inflate_mels $D/soup-with \
  --recipe train/recipes/student-distil-on-w40.json --out $D/soup-with-w40 --fit-data $D/corpus
cp $D/soup-with-w40/inflate.json $X/inflate-fourth-build.json
[ -f $D/w40-soup/soup.json ] || python -m slap_edge.train.soup $D/soup-with-w40 $S --weight 0.75 --weight 0.25 \
  --out $D/w40-soup
for c in w40-student-s2 w40-soup; do
  [ -f $D/$c-bundle/manifest.json ] || slap-edge export --model $D/$c --out $D/$c-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
    2>&1 | tee $X/export-$c.log
  for s in test holdout real into-real; do
    f=$X/evals/$c-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $D/$c-bundle --json $f.json --markdown $f.md
  done
done
ls -la $D/w40-student-s2-bundle/audio.onnx $D/w40-soup-bundle/audio.onnx
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $X/evals
echo "all done $(date)"
