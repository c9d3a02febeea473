#!/bin/bash
# teacher-v13: v12 (same corpus, recipe, seed) with the attribute heads' weight 1.0 instead of 0.5
source "$(dirname "$0")/../run-env.sh"
R=benchmarks/results/teacher-v13
echo "v13 train start $(date)"
slap-edge train --recipe $B/teacher-small-heads-w1.json --data $B/corpus-s5k-xa --out $B/teacher-v13 \
    --exclude-holdout $B/s5kxa-suite-holdout/holdout.json --max-minutes 72 --no-progress > $B/teacher-v13.log 2>&1
echo "v13 train done $(date)"
for p in "s5kxa-suite-test-x test-x" "s5kxa-suite-test-150-x test-150-x" "s5kxa-suite-holdout holdout" "s5kxa-suite-test test" "s5kxa-suite-test-150 test-150"; do
  set -- $p
  extra=""; [ "$2" = test-x ] && extra="--retrieval-data $B/corpus-s5k-xa"
  slap-edge eval --suite $B/$1 --model $B/teacher-v13 $extra --json $R/v13-$2.json --markdown $R/v13-$2.md > $B/v13-eval-$2.log 2>&1
  echo "v13 eval $2 done $(date)"
done
echo "all done $(date)"
