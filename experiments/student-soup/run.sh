#!/bin/bash
# Student soups (README.md): the built-in student and the ninth build's seed-N students averaged with equal weights,
# exported int8 with the chain's command and scored on the four suites. Skips what it finds done.
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
set -eo pipefail
D=work-data/third-stage
E=experiments/student-soup/evals
mkdir -p $E
[ -f $D/student-builtin/from_bundle.json ] || python -m slap_edge.train.from_bundle default \
  --teacher train/checkpoints/default-teacher-intonation --recipe train/recipes/student-distil-on.json \
  --out $D/student-builtin
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
  [into-real]=work-data/intonation-real/suite)
# soup-sN: equal weights (the rule's); soup-sN-wW: weight W on the ninth build's student (the curve, not for the rule).
for S in ${SOUPS:-soup-s1 soup-s1-w0.25 soup-s1-w0.75}; do
  seed=${S#soup-s}; seed=${seed%%-*}; w=0.5; [[ $S == *-w* ]] && w=${S##*-w}
  [ -f $D/$S/soup.json ] || python -m slap_edge.train.soup $D/student-builtin $D/v9-student-s$seed \
    --weight "$(python -c "print(1 - $w)")" --weight $w --out $D/$S
  [ -f $D/$S-bundle/manifest.json ] || slap-edge export --model $D/$S --out $D/$S-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
    > $D/$S-export.log 2>&1
  for s in holdout test into-real real; do
    f=$E/$S-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $D/$S-bundle --json $f.json --markdown $f.md
  done
done
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $E
