#!/bin/bash
# The built-in student distilled 2,000 steps more from its own teacher (README.md). Resumable: every step skips what
# it finds done. Corpora and suites by the chain's own commands (train/reproduce_default.sh, VOICES=all, SEED 11).
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
X=experiments/student-third-stage
D=work-data/third-stage
RV=work-data/real-voice-dev/suite
IR=work-data/intonation-real/suite
T=train/checkpoints/default-teacher-intonation
mkdir -p $D $X/evals
# The two real-voice suites (docs/real-voices.md; benchmarks/intonation_real_suite.py).
[ -f $RV/suite.json ] || WORK=work-data/real-voice-dev bash benchmarks/real_voice_dev.sh none
[ -f $IR/suite.json ] || python benchmarks/intonation_real_suite.py \
  --corpus work-data/real-voice-dev/corpus/all/manifest.jsonl --out $IR
# The chain's corpora and suites (train/reproduce_default.sh, VOICES=all: CLIPS 20000, SPEAKERS 5000, SEED 11).
J=$(nproc)
slap-edge data synth --out $D/corpus --clips 20000 --speakers 5000 --seed 11 --jobs $J --voices all
slap-edge data synth --out $D/corpus-espeak --clips 20000 --speakers 5000 --seed 11 --jobs $J --voices espeak
[ -f $D/corpus-train/manifest.jsonl ] || slap-edge data merge $D/corpus $D/corpus-espeak --id-prefix '' \
  --id-prefix es --out $D/corpus-train
slap-edge data synth --out $D/corpus-intonation --clips 12000 --speakers 3000 --seed 12 --jobs $J --voices all \
  --intonation vocoder
[ -f $D/corpus-train2/manifest.jsonl ] || slap-edge data merge $D/corpus-train $D/corpus-intonation --id-prefix '' \
  --id-prefix in --out $D/corpus-train2
HOLD=voice=mb-us1,voice=mb-us3,voice=mb-fr4,voice=mb-fr1,voice=mb-de5,voice=mb-nl2
[ -f $D/suite-holdout/suite.json ] || slap-edge data suite --from $D/corpus --out $D/suite-holdout \
  --holdout-voices $HOLD --seed 11 --overwrite
[ -f $D/suite-test/suite.json ] || slap-edge data suite --from $D/corpus --out $D/suite-test --seed 11 \
  --exclude-holdout $D/suite-holdout/holdout.json --overwrite
sha256sum $D/corpus-train2/manifest.jsonl | tee $D/corpus-train2.sha256
# The built-in student, rebuilt exactly from its float32 graph, and 2,000 steps more.
[ -f $D/student-builtin/from_bundle.json ] || python -m slap_edge.train.from_bundle slap_edge/assets/default \
  --teacher $T --recipe train/recipes/student-distil-on.json --out $D/student-builtin
slap-edge distill --teacher $T --recipe $X/third-stage.json --data $D/corpus-train2 --out $D/student3 \
  --init-from $D/student-builtin --no-progress --exclude-holdout $D/suite-holdout/holdout.json \
  $([ -f $D/student3/state.json ] && echo --resume) 2>&1 | tee -a $D/student3.log
[ -f $D/bundle3/manifest.json ] || slap-edge export --model $D/student3 --out $D/bundle3 \
  --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
  2>&1 | tee $X/export.log
cp $D/student3/metrics.csv $X/student-metrics.csv
# Scores: the new bundle and, on this machine, the built-in one.
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=$RV [into-real]=$IR)
for s in test holdout real into-real; do
  for m in third builtin; do
    case $m in third) model=$D/bundle3 ;; builtin) model=slap_edge/assets/default ;; esac
    f=$X/evals/$m-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $model --json $f.json --markdown $f.md
  done
done
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $X/evals
echo "all done $(date)"
