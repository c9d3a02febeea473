#!/bin/bash
# After pipeline-v14.sh (and teacher-v15's): v14 on the 2,000-speaker corpus's suites (the README's results table),
# and the probe ceiling of v12 and v14 on the suite of record.
source "$(dirname "$0")/../../../benchmarks/pipeline/run-env.sh"
R=experiments/results/teacher-v14
for s in test holdout; do
  slap-edge eval --suite $B/suite-$s --model $B/teacher-v14 --json $R/v14-v5suite-$s.json --markdown $R/v14-v5suite-$s.md \
      > $B/v14-eval-v5suite-$s.log 2>&1
  echo "v14 eval v5suite-$s done $(date)"
done
for m in v12 v14; do
  python experiments/probe_ceiling.py $B/teacher-$m $B/corpus-s5k-xa $B/s5kxa-suite-test-x \
      --exclude-holdout $B/s5kxa-suite-holdout/holdout.json --json $R/probe-ceiling-$m.json
done
