#!/bin/bash
# The built-in bundle, seventh build (candidate): the fourth build's chain (train/reproduce_default.sh, VOICES=all, two
# stages, the first stage and both teachers from the committed weights) with the second-stage student also matching
# the teacher's attribute heads (train/recipes/student-distil-on-headkd.json: head_kd_weight 1; README.md). The
# chain writes the bundle to work-data/v7/bundle; this script distils the second stage
# again with seed 2, scores both and the built-in bundle for the ship rule of README.md, measures the listen
# latency, runs the TensorRT check and the demo, and copies the records here. It does not ship. Resumable.
source "$(dirname "$0")/../../pipeline/run-env.sh"
set -eo pipefail
R=benchmarks/results/default-bundle-v7
D=work-data/v7
RV=work-data/real-voice-dev/suite
IR=work-data/intonation-real/suite
NEW=$D/bundle
mkdir -p $R/evals $D
pip freeze --exclude-editable > $R/pip-freeze.txt
dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' > $R/debian-packages.txt
# The second stage again with seed 2 (everything else the chain's), trained beside the chain's own second stage as soon
# as that starts (its run folder appears once the corpora, the teacher and the first-stage student are ready): two
# one-thread trainings use two cores better than two two-thread ones in turn.
S2=$D/student2-seed2
python -c 'import json, sys; r = json.load(open(sys.argv[1])); r["seed"] = 2; print(json.dumps(r, indent=2))' \
  train/recipes/student-distil-on-headkd.json > $D/student2-seed2.json
( while [ ! -f $D/student2-intonation/init.json ]; do sleep 30; done
  OMP_NUM_THREADS=1 slap-edge distill --teacher $D/teacher2 --recipe $D/student2-seed2.json --data $D/corpus-train2 \
    --out $S2 --init-from $D/student --no-progress --exclude-holdout $D/suite-holdout/holdout.json \
    $([ -f $S2/state.json ] && echo --resume) > $D/seed2.log 2>&1 ) &
SEED2_JOB=$!
# The chain on one thread too; JOBS set first, as nproc counts OMP_NUM_THREADS (the corpora use both cores).
[ -f $NEW/manifest.json ] || JOBS=$(nproc) OMP_NUM_THREADS=1 TEACHER=packed TEACHER2=packed STUDENT=packed OUT=$NEW \
  STUDENT2_RECIPE=train/recipes/student-distil-on-headkd.json \
  bash train/reproduce_default.sh $D 2>&1 | tee -a $D/chain.log
wait $SEED2_JOB
[ -f $S2-bundle/manifest.json ] || slap-edge export --model $S2 --out $S2-bundle \
  --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test
[ -f $RV/suite.json ] || WORK=work-data/real-voice-dev bash benchmarks/real_voice_dev.sh none
[ -f $IR/suite.json ] || python benchmarks/intonation_real_suite.py \
  --corpus work-data/real-voice-dev/corpus/all/manifest.jsonl --out $IR
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=$RV [into-real]=$IR)
for s in test holdout real into-real; do
  for m in bundle seed2 builtin; do
    case $m in builtin) model=default ;; bundle) model=$NEW ;; seed2) model=$S2-bundle ;; esac
    f=$R/evals/$m-$s
    if [ $m = bundle ] && [ -f $D/eval-$m-$s.json ]; then cp $D/eval-$m-$s.json $f.json; cp $D/eval-$m-$s.md $f.md; fi
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $model --json $f.json --markdown $f.md
  done
done
for m in slap_edge/assets/default $NEW $S2-bundle; do python experiments/demo-us2-age/check.py $m $D/corpus; done \
  > $R/demo-us2-age.txt
slap-edge bench --bundle $NEW --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check $NEW > $R/trt-check.txt 2>&1 || true
for m in builtin bundle; do
  case $m in builtin) model=default ;; bundle) model=$NEW ;; esac
  slap-edge listen --bundle $model --prompts demographics --input slap_edge/assets/demo/two_speakers.wav --fast \
    | grep '"event"' > $R/demo-events-$m.jsonl
done
cp $D/export.log $D/record.json $R/
cp $D/student2-intonation/metrics.csv $R/student-metrics.csv
cp $S2/metrics.csv $R/student-seed2-metrics.csv
cp $NEW/MODEL_CARD.md $R/MODEL_CARD.md
python benchmarks/pipeline/eval_summary.py $R/evals
echo "all done $(date)"
