#!/bin/bash
# Does a student hear more with 128 mel filters? An A/B of the second stage alone, small enough for one session on
# 2 cores: the built-in chain's first-stage student (the third build's, rebuilt exactly from
# train/checkpoints/default-student-v3) is distilled on for 700 steps (student-distil-on.json's settings, warm-up
# 50) from the fourth build's stage-2 teacher (train/checkpoints/default-teacher-intonation) on the default corpus,
# once at its own 64 mels and once carried to 128 mels (python -m slap_edge.train.inflate_mels, fitted on that
# corpus), two seeds each; every run is scored (PyTorch, fp32) on the chain's suites and the two real-voice suites.
#   bash experiments/results/student-128mel-carry/run.sh      # resumable; needs work-data/v6/corpus (the chain's)
set -euo pipefail
cd "$(dirname "$0")/../../.."
source .venv/bin/activate
export HF_HUB_OFFLINE=1
E=experiments/results/student-128mel-carry
D=work-data/v6
O=work-data/carry
T=train/checkpoints/default-teacher-intonation
mkdir -p $O $E/evals
HOLDOUT=voice=mb-us1,voice=mb-us3,voice=mb-fr4,voice=mb-fr1,voice=mb-de5,voice=mb-nl2  # the chain's
[ -f $D/suite-holdout/suite.json ] || slap-edge data suite --from $D/corpus --out $D/suite-holdout \
  --holdout-voices "$HOLDOUT" --seed 11 --overwrite
[ -f $D/suite-test/suite.json ] || slap-edge data suite --from $D/corpus --out $D/suite-test --seed 11 \
  --exclude-holdout $D/suite-holdout/holdout.json --overwrite
[ -f $O/s64/from_bundle.json ] || python -m slap_edge.train.from_bundle train/checkpoints/default-student-v3 \
  --teacher train/checkpoints/default-teacher-merged --recipe train/recipes/default-student-v3.json --out $O/s64
[ -f $O/s128/inflate.json ] || python -m slap_edge.train.inflate_mels $O/s64 \
  --recipe train/recipes/default-student-v3-128mel.json --fit-data $D/corpus --out $O/s128
cp $O/s128/inflate.json $E/
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite \
  [into-real]=work-data/intonation-real/suite)
for seed in ${SEEDS:-1 2}; do
  for arm in 64 128; do
    run=$O/ab-$arm-seed$seed
    slap-edge distill --teacher $T --recipe $E/ab-$arm-seed$seed.json --data $D/corpus --out $run --init-from $O/s$arm \
      --no-progress --exclude-holdout $D/suite-holdout/holdout.json $([ -f $run/state.json ] && echo --resume)
    cp $run/metrics.csv $E/metrics-ab-$arm-seed$seed.csv
    for s in test holdout real into-real; do
      f=$E/evals/ab-$arm-seed$seed-$s
      [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $run --json $f.json --markdown $f.md
    done
  done
done
python benchmarks/pipeline/eval_summary.py $E/evals
echo "all done $(date)"
