#!/bin/bash
# The ninth build through the chain of record, run only after pipeline.sh's figures met the ship rule (README.md):
# train/reproduce_default.sh with every stage but the last student packed, in the pipeline's work folder. The chain's
# second-stage student folder is the pipeline's seed-1 run (the same command: recipe student-distil-on.json with seed
# 1, the committed teacher, the same corpus, init and held-out voices, so `distill --resume` finds it finished and the
# chain distils nothing); the chain then exports, scores and writes the model card and record. This script checks that
# the chain's audio.onnx is byte-identical to the pipeline's seed-1 export, measures the listen latency, runs the
# TensorRT check and the demo, and copies the records here. Replacing slap_edge/assets/default is done after it.
source "$(dirname "$0")/../../pipeline/run-env.sh"
set -eo pipefail
R=benchmarks/results/default-bundle-v9
D=work-data/third-stage
NEW=$D/bundle-v9
[ -d $D/student2-intonation ] || cp -r $D/v9-student-s1 $D/student2-intonation
[ -f $NEW/manifest.json ] || TEACHER=packed TEACHER2=packed STUDENT=packed OUT=$NEW \
  TEACHER2_RECIPE=train/recipes/teacher-tune-intonation-long.json STUDENT2_RECIPE=train/recipes/student-distil-on.json \
  bash train/reproduce_default.sh $D 2>&1 | tee $D/chain.log
sha256sum $NEW/audio.onnx $D/v9-student-s1-bundle/audio.onnx | tee $R/chain-vs-pipeline.txt
[ "$(sha256sum < $NEW/audio.onnx)" = "$(sha256sum < $D/v9-student-s1-bundle/audio.onnx)" ] \
  && echo "the chain's audio.onnx is the pipeline's seed-1 export, byte for byte" | tee -a $R/chain-vs-pipeline.txt \
  || echo "the chain's audio.onnx differs from the pipeline's seed-1 export" | tee -a $R/chain-vs-pipeline.txt
for s in test holdout; do
  cp $D/eval-bundle-$s.json $R/evals/chain-bundle-$s.json; cp $D/eval-bundle-$s.md $R/evals/chain-bundle-$s.md
done
slap-edge bench --bundle $NEW --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check $NEW > $R/trt-check.txt 2>&1 || true
slap-edge listen --bundle $NEW --prompts demographics --input slap_edge/assets/demo/two_speakers.wav --fast \
  | grep '"event"' > $R/demo-events.jsonl
cp $D/export.log $D/record.json $R/
cp $NEW/MODEL_CARD.md $R/MODEL_CARD.md
ls -l $NEW/audio.onnx
echo "all done $(date)"
