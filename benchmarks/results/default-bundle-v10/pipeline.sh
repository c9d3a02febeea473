#!/bin/bash
# The tenth build (candidate), README.md: the chain of record (train/reproduce_default.sh) with every stage packed but
# the second-stage student and a soup stage: the ninth build's seed-2 student (recipe student-distil-on-s2.json,
# from the committed long teacher) averaged with the fourth build's student (train/checkpoints/default-student-v4,
# rebuilt exactly from its float32 graph), weight 0.25 on the former. The chain's second-stage student folder is the
# ninth build's pipeline's seed-2 run, made by the same command (recipe, teacher, corpus, init, held-out voices), so
# `distill --resume` finds it finished. Scores the bundle on the four suites, the listen latency, the TensorRT check
# and the demo, and copies the records here. It does not ship: that is done after the rule is read (README.md).
source "$(dirname "$0")/../../pipeline/run-env.sh"
set -eo pipefail
R=benchmarks/results/default-bundle-v10
D=work-data/third-stage
NEW=$D/bundle-v10
mkdir -p $R/evals
python -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["step"] != 2000)' $D/v9-student-s2/state.json \
  2>/dev/null || { echo "the ninth build's seed-2 student is missing or unfinished: run" \
  "benchmarks/results/default-bundle-v9/pipeline.sh first" >&2; exit 1; }
[ -f $R/pip-freeze.txt ] || pip freeze --exclude-editable > $R/pip-freeze.txt
[ -f $R/debian-packages.txt ] || dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' \
  > $R/debian-packages.txt
[ -d $D/student2-intonation ] || cp -r $D/v9-student-s2 $D/student2-intonation
[ -f $NEW/manifest.json ] || TEACHER=packed TEACHER2=packed STUDENT=packed OUT=$NEW \
  TEACHER2_RECIPE=train/recipes/teacher-tune-intonation-long.json \
  STUDENT2_RECIPE=train/recipes/student-distil-on-s2.json \
  SOUP_WITH=train/checkpoints/default-student-v4 SOUP_TEACHER=train/checkpoints/default-teacher-intonation \
  SOUP_WEIGHT=0.25 bash train/reproduce_default.sh $D 2>&1 | tee $D/chain-v10.log
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
for s in test holdout; do cp $D/eval-bundle-$s.json $R/evals/bundle-$s.json; cp $D/eval-bundle-$s.md $R/evals/bundle-$s.md; done
for s in real into-real; do
  f=$R/evals/bundle-$s
  [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $NEW --json $f.json --markdown $f.md
done
slap-edge bench --bundle $NEW --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check $NEW > $R/trt-check.txt 2>&1 || true
slap-edge listen --bundle $NEW --prompts demographics --input slap_edge/assets/demo/two_speakers.wav --fast \
  | grep '"event"' > $R/demo-events.jsonl
cp $D/export.log $D/record.json $R/
cp $NEW/MODEL_CARD.md $R/MODEL_CARD.md
ls -l $NEW/audio.onnx
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $R/evals
echo "all done $(date)"
