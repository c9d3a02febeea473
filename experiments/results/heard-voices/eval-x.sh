#!/bin/bash
# every model on the held-out-speaker suites without the 6 held-out voices (data suite --exclude-holdout)
source "$(dirname "$0")/../../../benchmarks/pipeline/run-env.sh"
R=experiments/results/heard-voices
mkdir -p $R
while pgrep -f "pipeline-v12.sh" >/dev/null; do sleep 10; done
for m in "teacher-v12 v12" "teacher-v11 v11" "teacher-v11s1 v11s1" "teacher-v8 v8"; do
  set -- $m
  for s in "s5kxa-suite-test-x test-x" "s5kxa-suite-test-150-x test-150-x"; do
    set -- $1 $2 $s
    slap-edge eval --suite $B/$3 --model $B/$1 --json $R/$2-$4.json --markdown $R/$2-$4.md > $B/evalx-$2-$4.log 2>&1
    echo "$2 $4 done $(date)"
  done
done
echo "all done $(date)"
