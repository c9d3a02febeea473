#!/usr/bin/env bash
# Export an arm's student as the built-in profile's int8 bundle and score it on the three suites of record.
set -euo pipefail
A=$1
cd /work/wt-lead
export HF_HUB_OFFLINE=1 PYTHONPATH=/work/wt-lead
PY=/work/main/.venv/bin/python
W=/work/main/work-data/default
E=/work/main/work-data/exp
rm -rf $E/$A-bundle
$PY -m slap_edge.cli export --model $W/student2-$A --out $E/$A-bundle --profile export/profiles/default-bundle.json --int8 \
  --with-text --calibration $W/corpus --suite $W/suite-test > $E/$A-export.log 2>&1
for s in test holdout; do
  $PY -m slap_edge.cli eval --suite $W/suite-$s --model $E/$A-bundle --json $E/$A-eval-$s.json --markdown $E/$A-eval-$s.md
done
$PY -m slap_edge.cli eval --suite /work/main/work-data/real-voice-dev/suite --model $E/$A-bundle --json $E/$A-eval-real.json \
  --markdown $E/$A-eval-real.md
echo "$A done"
