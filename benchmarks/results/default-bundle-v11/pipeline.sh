#!/bin/bash
# The eleventh build (candidate), README.md: the chain of record (train/reproduce_default.sh) with every stage packed
# but the second-stage student: the first-stage student carried to the 40 ms front end (CARRY_RECIPE), then distilled
# 2,000 steps from the committed long teacher on the corpus + intonation corpus + real-voice training speech
# (STUDENT2_DATA=intonation-real), seed 5, no soup. The chain's second-stage student folder is the run (g) of
# experiments/student-window/ (run-g.sh), made by the same command (recipe, teacher, data, init, held-out voices), so
# `distill --resume` finds it finished. Scores the bundle on the four suites, the listen latency beside the built-in
# bundle's in the same run, the TensorRT check and the demo, and copies the records here. It does not ship: that is
# done after the rule is read (experiments/student-window/README.md, "A fresh 40 ms student under a revised rule").
source "$(dirname "$0")/../../pipeline/run-env.sh"
set -eo pipefail
R=benchmarks/results/default-bundle-v11
D=work-data/third-stage
NEW=$D/bundle-v11
mkdir -p $R/evals
python -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["step"] != 2000)' $D/w40-student-real-s5/state.json \
  2>/dev/null || { echo "the candidate (g) is missing or unfinished: run experiments/student-window/run-g.sh first" >&2
  exit 1; }
[ -f $R/pip-freeze.txt ] || pip freeze --exclude-editable > $R/pip-freeze.txt
[ -f $R/debian-packages.txt ] || dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' \
  > $R/debian-packages.txt
[ -d $D/student2-intonation-real-carried ] || cp -r $D/w40-student-real-s5 $D/student2-intonation-real-carried
[ -f $NEW/manifest.json ] || TEACHER=packed TEACHER2=packed STUDENT=packed OUT=$NEW \
  TEACHER2_RECIPE=train/recipes/teacher-tune-intonation-long.json \
  CARRY_RECIPE=train/recipes/default-student-v3-w40.json STUDENT2_RECIPE=train/recipes/student-distil-on-w40-s5.json \
  STUDENT2_DATA=intonation-real SOUP_WITH= bash train/reproduce_default.sh $D 2>&1 | tee $D/chain-v11.log
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
for s in test holdout; do cp $D/eval-bundle-$s.json $R/evals/bundle-$s.json; cp $D/eval-bundle-$s.md $R/evals/bundle-$s.md; done
for s in real into-real; do
  f=$R/evals/bundle-$s
  [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $NEW --json $f.json --markdown $f.md
done
# The candidate and the built-in bundle, one after the other on the same machine (the rule compares them).
for b in candidate:$NEW builtin:slap_edge/assets/default; do
  slap-edge bench --bundle ${b#*:} --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
    --json $R/bench-listen-${b%%:*}.json --markdown $R/bench-listen-${b%%:*}.md
done
slap-edge trt check $NEW > $R/trt-check.txt 2>&1 || true
slap-edge listen --bundle $NEW --prompts demographics --input slap_edge/assets/demo/two_speakers.wav --fast \
  | grep '"event"' > $R/demo-events.jsonl
cp $D/export.log $D/record.json $R/
cp $NEW/MODEL_CARD.md $R/MODEL_CARD.md
ls -l $NEW/audio.onnx
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $R/evals
echo "all done $(date)"
