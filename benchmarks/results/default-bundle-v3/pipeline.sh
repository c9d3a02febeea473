#!/bin/bash
# The built-in bundle of record, third build (2026-12-06): student-vit-nano distilled for 6,000 steps
# (train/recipes/default-student-v3.json) from the merged-data teacher (train/recipes/default-teacher.json on the
# default corpus merged with the espeak-only corpus), the chain `make reproduce-default` now runs
# (train/reproduce_default.sh, VOICES=all). Its first stages were run with the chain's own commands by the two
# experiments that chose it: experiments/results/teacher-more-voices/run.sh (merge, teacher) and
# experiments/results/student-6000-merged/run.sh (student), in work-data/exp-more-voices. From the export on, this
# script runs the chain's remaining commands on them, then the listen latency, the TensorRT check, the real-voice dev
# suite and the records copied here. Suites: work-data/default/suite-{test,holdout} (the chain's, hashes b9eece99...
# and 5a13c387..., as the second build's) and work-data/real-voice-dev/suite.
source "$(dirname "$0")/../../pipeline/run-env.sh"
R=benchmarks/results/default-bundle-v3
E=work-data/exp-more-voices
X=experiments/results
D=work-data/default
RV=work-data/real-voice-dev/suite
OUT=slap_edge/assets/default
W=$E/chain-v3
mkdir -p $W
pip freeze --exclude-editable > $R/pip-freeze.txt
dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' > $R/debian-packages.txt
# train/reproduce_default.sh from `export` on, with its arguments ($WORK/corpus = $D/corpus, TRAIN = $E/corpus).
rm -rf "$OUT.new"
slap-edge export --model $E/student-6000 --out "$OUT.new" --profile export/profiles/default-bundle.json --int8 --with-text \
  --calibration $D/corpus --suite $D/suite-test | tee $W/export.log
for s in test holdout; do
  cp $X/teacher-more-voices/teacher-eval-$s.json $W/eval-teacher-$s.json   # the teacher's evals (same suites)
  cp $X/teacher-more-voices/teacher-eval-$s.md $W/eval-teacher-$s.md
  slap-edge eval --suite $D/suite-$s --model "$OUT.new" --json $W/eval-bundle-$s.json --markdown $W/eval-bundle-$s.md
done
python -m slap_edge.export.card --teacher $E/teacher --student $E/student-6000 --corpus $E/corpus \
  --holdout $D/suite-holdout/holdout.json \
  --recipe train/recipes/default-teacher.json --recipe train/recipes/default-student-v3.json \
  --recipe export/profiles/default-bundle.json \
  --eval "Held-out speakers (suite from the corpus' test split)" $D/suite-test $W/eval-bundle-test.json \
  --eval "Held-out voices (never heard in training)" $D/suite-holdout $W/eval-bundle-holdout.json \
  --teacher-eval $W/eval-teacher-test.json --teacher-eval $W/eval-teacher-holdout.json \
  --record $W/record.json --out $W/card-sections.md
slap-edge bundle card "$OUT.new" --append $W/card-sections.md --record $W/record.json
rm -rf "$OUT" && mv "$OUT.new" "$OUT"
slap-edge bundle verify "$OUT"
# Beyond the chain: latency, TensorRT check, real-voice dev suite.
slap-edge bench --bundle $OUT --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check $OUT > $R/trt-check.txt 2>&1 || true
slap-edge eval --suite $RV --model $OUT --json $W/eval-bundle-real.json --markdown $W/eval-bundle-real.md
cp $X/teacher-more-voices/teacher-eval-real.json $W/eval-teacher-real.json
cp $X/teacher-more-voices/teacher-eval-real.md $W/eval-teacher-real.md
cp $W/record.json $W/eval-*.json $W/eval-*.md $W/export.log $R/
cp $OUT/MODEL_CARD.md $R/MODEL_CARD.md
cp $E/student-6000/metrics.csv $R/student-metrics.csv
# The card's record has no provenance block: stamp one (the commit, the student's hashes).
python - $R/record.json $E/student-6000 $OUT <<'PY'
import datetime, json, sys
from pathlib import Path
from slap_edge.provenance import machine_label, model_hashes
path, student, bundle = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
record = json.loads(path.read_text(encoding="utf-8"))
made = datetime.datetime.fromtimestamp((bundle / "manifest.json").stat().st_mtime, datetime.timezone.utc)
record["provenance"] = {
    "date": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": f"{record['git_commit']} (the code that made it; stamped afterwards)",
    "made_by": "benchmarks/results/default-bundle-v3/pipeline.sh (train/reproduce_default.sh's commands from export "
    "on; earlier stages by experiments/results/teacher-more-voices/run.sh and student-6000-merged/run.sh)",
    **model_hashes(student), "suite": "n/a", "suite_hash": "n/a", "machine": machine_label(),
}
path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
PY
echo "all done $(date)"
