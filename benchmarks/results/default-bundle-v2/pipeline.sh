#!/bin/bash
# The built-in bundle of record, second build: `make reproduce-default`'s chain (train/reproduce_default.sh) in
# work-data/default with the student recipe default-student-v2 (3,000 distillation steps from the same teacher
# recipe), then the listen latency, the TensorRT check, the real-voice dev suite, the packed teacher, and the records
# copied here. The real-voice dev suite is `benchmarks/real_voice_dev.sh`'s (work-data/real-voice-dev/suite).
source "$(dirname "$0")/../../pipeline/run-env.sh"
R=benchmarks/results/default-bundle-v2
W=work-data/default
RV=work-data/real-voice-dev/suite
mkdir -p $W
# What the corpus and models depend on beyond the code: the Python packages and the speech engines' Debian packages
# (a corpus made with other versions can differ in a few clips).
pip freeze --exclude-editable > $R/pip-freeze.txt
dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' > $R/debian-packages.txt
echo "chain start $(date)"
SLAP_EDGE=$(command -v slap-edge) bash train/reproduce_default.sh $W 2>&1 | tee $W/reproduce.log
echo "chain done $(date)"
slap-edge bench --bundle slap_edge/assets/default --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check slap_edge/assets/default > $R/trt-check.txt 2>&1 || true
if [ -d $RV ]; then
  slap-edge eval --suite $RV --model slap_edge/assets/default --json $W/eval-bundle-real.json --markdown $W/eval-bundle-real.md
  slap-edge eval --suite $RV --model $W/teacher --json $W/eval-teacher-real.json --markdown $W/eval-teacher-real.md
fi
[ -d $W/teacher-packed ] || python -m slap_edge.train.pack $W/teacher $W/teacher-packed
cp $W/record.json $W/eval-*.json $W/eval-*.md $W/export.log $W/corpus-stats.txt $R/
grep -E "train|distill|student|trained|teacher" $W/reproduce.log | tail -8 > $R/train-summary.txt
echo "all done $(date)"
