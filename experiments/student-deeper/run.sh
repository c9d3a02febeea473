#!/bin/bash
# The deeper-student A/B (README.md). Resumable: every step skips what it finds done. The work folder's corpora,
# suites, first-stage student (from_bundle of train/checkpoints/default-student-v3) and the rebuilt fourth-build student
# (soup-with) were made by benchmarks/results/default-bundle-v9/pipeline.sh and default-bundle-v10/pipeline.sh.
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
X=experiments/student-deeper
D=work-data/third-stage
PACKED=train/checkpoints/default-teacher-intonation-long
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
mkdir -p $X/evals
[ -f $D/student-d4/deepen.json ] || python -m slap_edge.train.deepen $D/student \
  --recipe train/recipes/default-student-v3-d4.json --out $D/student-d4 --check-data $D/corpus
cp $D/student-d4/deepen.json $X/deepen-first-stage.json
S=$D/d4-student-s2
slap-edge distill --teacher $PACKED --recipe train/recipes/student-distil-on-d4-s2.json --data $D/corpus-train2 \
  --out $S --init-from $D/student-d4 --no-progress --exclude-holdout $D/suite-holdout/holdout.json \
  $([ -f $S/state.json ] && echo --resume) 2>&1 | tee -a $S.log
cp $S/metrics.csv $X/d4-student-s2-metrics.csv
# (b): the fourth-build student grown by the same block, averaged with (a) at 0.25 on (a).
[ -f $D/soup-with-d4/deepen.json ] || python -m slap_edge.train.deepen $D/soup-with \
  --recipe train/recipes/student-distil-on-d4.json --out $D/soup-with-d4 --check-data $D/corpus
cp $D/soup-with-d4/deepen.json $X/deepen-fourth-build.json
[ -f $D/d4-soup/soup.json ] || python -m slap_edge.train.soup $D/soup-with-d4 $S --weight 0.75 --weight 0.25 \
  --out $D/d4-soup
for c in d4-student-s2 d4-soup; do
  [ -f $D/$c-bundle/manifest.json ] || slap-edge export --model $D/$c --out $D/$c-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
    2>&1 | tee $X/export-$c.log
  for s in test holdout real into-real; do
    f=$X/evals/$c-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $D/$c-bundle --json $f.json --markdown $f.md
  done
done
ls -la $D/d4-student-s2-bundle/audio.onnx $D/d4-soup-bundle/audio.onnx
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $X/evals
echo "all done $(date)"
