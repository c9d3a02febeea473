#!/bin/bash
# sampling noise of the 40-a-class held-out-speaker suite: 5 more draws (suite seeds 21-25) of `data suite
# --exclude-holdout`, v12 and v13 scored on each
source "$(dirname "$0")/../../../benchmarks/pipeline/run-env.sh"
R=experiments/results/teacher-v13
for s in 21 22 23 24 25; do
  slap-edge data suite --from $B/corpus-s5k-xa --out $B/s5kxa-suite-test-x-s$s --seed $s \
      --exclude-holdout $B/s5kxa-suite-holdout/holdout.json > $B/suite-s$s.log 2>&1
  for m in v12 v13; do
    slap-edge eval --suite $B/s5kxa-suite-test-x-s$s --model $B/teacher-$m --json $R/$m-test-x-s$s.json > $B/eval-$m-s$s.log 2>&1
    echo "$m s$s done $(date)"
  done
done
