#!/bin/bash
# A longer student on the merged-data teacher: student-vit-nano distilled for 6,000 steps
# (train/recipes/default-student-v3.json; the built-in bundle's student had 3,000) from the teacher of
# ../teacher-more-voices/ (default corpus + espeak-only corpus, 40,000 clips), on the same merged corpus, the same
# six MBROLA voices held out. Export with the built-in profile, scored on the built-in bundle's suites and the
# real-voice dev suite. Needs work-data/exp-more-voices/{corpus,teacher} (made by ../teacher-more-voices/run.sh).
# Resumable: run it again.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export HF_HUB_OFFLINE=1
SE=.venv/bin/slap-edge
R=experiments/results/student-6000-merged
W=work-data/exp-more-voices
D=work-data/default
HO=$D/suite-holdout/holdout.json
$SE distill --teacher $W/teacher --recipe train/recipes/default-student-v3.json --data $W/corpus --out $W/student-6000 \
  --no-progress --exclude-holdout $HO $([ -f $W/student-6000/state.json ] && echo --resume)
[ -f $W/bundle-6000/manifest.json ] || $SE export --model $W/student-6000 --out $W/bundle-6000 \
  --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
  | tee $R/export.log
for s in test holdout; do
  [ -f $R/bundle-eval-$s.json ] || $SE eval --suite $D/suite-$s --model $W/bundle-6000 --json $R/bundle-eval-$s.json \
    --markdown $R/bundle-eval-$s.md
done
[ -f $R/bundle-eval-real.json ] || $SE eval --suite work-data/real-voice-dev/suite --model $W/bundle-6000 \
  --json $R/bundle-eval-real.json --markdown $R/bundle-eval-real.md
cp $W/student-6000/metrics.csv $R/student-metrics.csv
echo "done $(date)"
