#!/bin/bash
# More voices for the default chain's teacher and student: the default corpus (work-data/default/corpus: espeak-ng +
# 35 MBROLA voices, 20,000 clips) merged with the espeak-only corpus (work-data/default-espeak/corpus: 20,000 clips of
# 479 espeak-ng voice variants, other speakers), everything else as `make reproduce-default` (same recipes, same
# held-out MBROLA voices excluded). A/B against the built-in chain (benchmarks/results/default-bundle-v2): only the
# training data differs. Scored on the default chain's suites and the real-voice dev suite. Resumable: run it again.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export HF_HUB_OFFLINE=1
SE=.venv/bin/slap-edge
R=experiments/results/teacher-more-voices
W=work-data/exp-more-voices
D=work-data/default
HO=$D/suite-holdout/holdout.json
mkdir -p $W
# Both corpora number their clips from syn-000000: the espeak-only corpus' ids become essyn-....
[ -f $W/corpus/manifest.jsonl ] || $SE data merge $D/corpus work-data/default-espeak/corpus --id-prefix '' \
  --id-prefix es --out $W/corpus
$SE train --recipe train/recipes/default-teacher.json --data $W/corpus --out $W/teacher --no-progress \
  --exclude-holdout $HO $([ -f $W/teacher/state.json ] && echo --resume)
ev() {  # $1 name, $2 model
  for s in test holdout; do
    [ -f $R/$1-eval-$s.json ] || $SE eval --suite $D/suite-$s --model $2 --json $R/$1-eval-$s.json --markdown $R/$1-eval-$s.md
  done
  [ -f $R/$1-eval-real.json ] || $SE eval --suite work-data/real-voice-dev/suite --model $2 --json $R/$1-eval-real.json \
    --markdown $R/$1-eval-real.md
}
ev teacher $W/teacher
$SE distill --teacher $W/teacher --recipe train/recipes/default-student-v2.json --data $W/corpus --out $W/student \
  --no-progress --exclude-holdout $HO $([ -f $W/student/state.json ] && echo --resume)
[ -f $W/bundle/manifest.json ] || $SE export --model $W/student --out $W/bundle --profile export/profiles/default-bundle.json \
  --int8 --with-text --calibration $D/corpus --suite $D/suite-test | tee $R/export.log
ev bundle $W/bundle
echo "done $(date)"
