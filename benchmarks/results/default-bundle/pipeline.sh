#!/bin/bash
# The built-in bundle of record: `make reproduce-default`'s chain (train/reproduce_default.sh) in work-data/default,
# then the latency of `listen` with the new bundle, and the records copied here. The corpus is the one of
# teacher-v16 (`data synth --clips 20000 --speakers 5000 --seed 11`); where work-data/big/corpus-s5k-xa already holds
# it, it is linked rather than rendered again (data synth then finds every clip and only checks the plan).
source "$(dirname "$0")/../../pipeline/run-env.sh"
R=benchmarks/results/default-bundle
W=work-data/default
mkdir -p $W
[ -e $W/corpus ] || { [ -f $B/corpus-s5k-xa/manifest.jsonl ] && ln -s ../big/corpus-s5k-xa $W/corpus; }
echo "chain start $(date)"
SLAP_EDGE=$(command -v slap-edge) bash train/reproduce_default.sh $W 2>&1 | tee $W/reproduce.log
echo "chain done $(date)"
slap-edge bench --bundle slap_edge/assets/default --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check slap_edge/assets/default > $R/trt-check.txt 2>&1 || true
cp $W/record.json $W/eval-*.json $W/eval-*.md $W/export.log $W/corpus-stats.txt $R/
grep -E "train|distill|student|trained" $W/reproduce.log | tail -5 > $R/train-summary.txt
echo "all done $(date)"
