#!/bin/bash
# teacher-v15: v14's recipe (no masked-autoencoder pass) at v12's 7,000 steps, to tell the steps from the loss
source "$(dirname "$0")/../run-env.sh"
R=benchmarks/results/teacher-v15
echo "v15 train start $(date)"
slap-edge train --recipe $R/teacher-v15-recipe.json --data $B/corpus-s5k-xa --out $B/teacher-v15 \
    --exclude-holdout $B/s5kxa-suite-holdout/holdout.json --max-minutes 60 --no-progress > $B/teacher-v15.log 2>&1
echo "v15 train done $(date)"
for p in "s5kxa-suite-test-x test-x" "s5kxa-suite-test-150-x test-150-x" "s5kxa-suite-holdout holdout" "s5kxa-suite-test test" "s5kxa-suite-test-150 test-150"; do
  set -- $p
  extra=""; [ "$2" = test-x ] && extra="--retrieval-data $B/corpus-s5k-xa"
  slap-edge eval --suite $B/$1 --model $B/teacher-v15 $extra --json $R/v15-$2.json --markdown $R/v15-$2.md > $B/v15-eval-$2.log 2>&1
  echo "v15 eval $2 done $(date)"
done
for s in 21 22 23 24 25; do
  slap-edge eval --suite $B/s5kxa-suite-test-x-s$s --model $B/teacher-v15 --json $R/v15-test-x-s$s.json > $B/eval-v15-s$s.log 2>&1
  echo "v15 eval s$s done $(date)"
done
echo "all done $(date)"
