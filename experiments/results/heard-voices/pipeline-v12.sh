#!/bin/bash
# teacher-v12: v11 (same corpus, same recipe) + attribute heads (7 attributes + 20 languages), weight 0.5
source "$(dirname "$0")/../../../benchmarks/pipeline/run-env.sh"
R=experiments/results
echo "v12 train start $(date)"
slap-edge train --recipe $B/teacher-small-heads.json --data $B/corpus-s5k-xa --out $B/teacher-v12 \
    --exclude-holdout $B/s5kxa-suite-holdout/holdout.json --max-minutes 72 --no-progress > $B/teacher-v12.log 2>&1
echo "v12 train done $(date)"
for p in "s5kxa-suite-test test" "s5kxa-suite-test-150 test-150" "s5kxa-suite-holdout holdout"; do
  set -- $p
  extra=""; [ "$2" = test ] && extra="--retrieval-data $B/corpus-s5k-xa"
  slap-edge eval --suite $B/$1 --model $B/teacher-v12 $extra --json $R/teacher-v12-eval-$2.json --markdown $R/teacher-v12-eval-$2.md > $B/v12-eval-$2.log 2>&1
  echo "v12 eval $2 done $(date)"
done
echo "all done $(date)"
