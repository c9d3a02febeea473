#!/bin/bash
# teacher-v14: v12 (same corpus, heads, seed) without the masked-autoencoder pass (mae_weight 0), 10,000 steps in the time 7,000 took
source "$(dirname "$0")/../run-env.sh"
R=benchmarks/results/teacher-v14
echo "v14 train start $(date)"
slap-edge train --recipe $R/teacher-v14-recipe.json --data $B/corpus-s5k-xa --out $B/teacher-v14 \
    --exclude-holdout $B/s5kxa-suite-holdout/holdout.json --max-minutes 73 --no-progress > $B/teacher-v14.log 2>&1
echo "v14 train done $(date)"
for p in "s5kxa-suite-test-x test-x" "s5kxa-suite-test-150-x test-150-x" "s5kxa-suite-holdout holdout" "s5kxa-suite-test test" "s5kxa-suite-test-150 test-150"; do
  set -- $p
  extra=""; [ "$2" = test-x ] && extra="--retrieval-data $B/corpus-s5k-xa"
  slap-edge eval --suite $B/$1 --model $B/teacher-v14 $extra --json $R/v14-$2.json --markdown $R/v14-$2.md > $B/v14-eval-$2.log 2>&1
  echo "v14 eval $2 done $(date)"
done
for s in 21 22 23 24 25; do
  slap-edge eval --suite $B/s5kxa-suite-test-x-s$s --model $B/teacher-v14 --json $R/v14-test-x-s$s.json > $B/eval-v14-s$s.log 2>&1
  echo "v14 eval s$s done $(date)"
done
echo "all done $(date)"
