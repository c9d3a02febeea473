#!/bin/bash
# Intonation lever, controlled (issue 22, item 3): `--intonation vocoder` against `--intonation spread` on the same
# 1,500 speakers (seed 12: the same voices, texts and labels; only how each labelled speaker's F0 contour is set
# differs), each merged with the default corpus (20,000 clips, seed 11) and tuned into the built-in bundle's packed
# teacher for 1,000 steps (train/recipes/teacher-tune-lever-1000.json). Scored on the suites of record, the
# real-voice dev suite, the real-voice intonation suite and both intonation corpora's held-out speakers.
# Resumable: every stage skips what is done.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export HF_HUB_OFFLINE=1
SE=.venv/bin/slap-edge
PY=.venv/bin/python
R=experiments/results/intonation-spread
D=work-data/default
W=work-data/exp-spread
HOLDOUT=voice=mb-us1,voice=mb-us3,voice=mb-fr4,voice=mb-fr1,voice=mb-de5,voice=mb-nl2
TEACHER0=train/checkpoints/default-teacher-merged
echo "start $(date)"
$SE data synth --out $D/corpus --clips 20000 --speakers 5000 --seed 11 --jobs 2 --voices all
[ -f $D/suite-holdout/suite.json ] || $SE data suite --from $D/corpus --out $D/suite-holdout \
  --holdout-voices "$HOLDOUT" --seed 11
[ -f $D/suite-test/suite.json ] || $SE data suite --from $D/corpus --out $D/suite-test --seed 11 \
  --exclude-holdout $D/suite-holdout/holdout.json
HO=$D/suite-holdout/holdout.json
[ -f work-data/real-voice-dev/suite/suite.json ] || WORK=work-data/real-voice-dev bash benchmarks/real_voice_dev.sh none
[ -f work-data/intonation-real/suite/suite.json ] || $PY benchmarks/intonation_real_suite.py \
  --corpus work-data/real-voice-dev/corpus/all/manifest.jsonl --out work-data/intonation-real/suite
echo "base done $(date)"
for v in vocoder spread; do
  $SE data synth --out $W/into-$v --clips 6000 --speakers 1500 --seed 12 --jobs 2 --intonation $v
  $SE data stats $W/into-$v > $R/into-$v-stats.txt
  [ -f $W/suite-into-$v/suite.json ] || $SE data suite --from $W/into-$v --out $W/suite-into-$v --seed 12 \
    --exclude-holdout $HO
  [ -f $W/train-$v/manifest.jsonl ] || $SE data merge $D/corpus $W/into-$v --id-prefix '' --id-prefix in \
    --out $W/train-$v
done
echo "corpora done $(date)"
for v in vocoder spread; do
  $SE train --recipe train/recipes/teacher-tune-lever-1000.json --data $W/train-$v --out $W/teacher-$v \
    --init-from $TEACHER0 --no-progress --exclude-holdout $HO $([ -f $W/teacher-$v/state.json ] && echo --resume)
  cp $W/teacher-$v/metrics.csv $R/teacher-$v-metrics.csv
done
echo "teachers done $(date)"
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite [into-vocoder]=$W/suite-into-vocoder [into-spread]=$W/suite-into-spread)
declare -A MODELS=([teacher0]=$TEACHER0 [vocoder]=$W/teacher-vocoder [spread]=$W/teacher-spread)
for s in into-real into-spread into-vocoder real test holdout; do
  for m in spread vocoder teacher0; do
    # The starting teacher on the suites of record and the real-voice dev suite: benchmarks/results/default-bundle-v3
    [[ $m == teacher0 && ( $s == test || $s == holdout || $s == real ) ]] && continue
    [ -f $R/$m-eval-$s.json ] || $SE eval --suite ${SUITES[$s]} --model ${MODELS[$m]} --json $R/$m-eval-$s.json \
      --markdown $R/$m-eval-$s.md
  done
done
echo "done $(date)"
