#!/bin/bash
# Train one teacher-small variant on corpus-s5k-xa (the 6 held-out MBROLA voices left out) and score it on the five
# suites of that corpus (retrieval with the first), then, with SEEDS set, on those extra draws of the 40-a-class
# suite. Run by the teacher-vN/pipeline-vN.sh scripts:
#   train-eval.sh NAME RECIPE MAX_MINUTES RESULTS_DIR      (env SEEDS="21 22 23 24 25" for the extra draws)
source "$(dirname "$0")/run-env.sh"
N=$1 RECIPE=$2 MINUTES=$3 R=$4
echo "$N train start $(date)"
slap-edge train --recipe $RECIPE --data $B/corpus-s5k-xa --out $B/teacher-$N \
    --exclude-holdout $B/s5kxa-suite-holdout/holdout.json --max-minutes $MINUTES --no-progress > $B/teacher-$N.log 2>&1
echo "$N train done $(date)"
for p in "s5kxa-suite-test-x test-x" "s5kxa-suite-test-150-x test-150-x" "s5kxa-suite-holdout holdout" "s5kxa-suite-test test" "s5kxa-suite-test-150 test-150"; do
  set -- $p
  extra=""; [ "$2" = test-x ] && extra="--retrieval-data $B/corpus-s5k-xa"
  slap-edge eval --suite $B/$1 --model $B/teacher-$N $extra --json $R/$N-$2.json --markdown $R/$N-$2.md > $B/$N-eval-$2.log 2>&1
  echo "$N eval $2 done $(date)"
done
for s in ${SEEDS:-}; do
  slap-edge eval --suite $B/s5kxa-suite-test-x-s$s --model $B/teacher-$N --json $R/$N-test-x-s$s.json > $B/eval-$N-s$s.log 2>&1
  echo "$N eval s$s done $(date)"
done
echo "all done $(date)"
