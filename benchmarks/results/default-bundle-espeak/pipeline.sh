#!/bin/bash
# The espeak-only bundle of record (no MBROLA voice, so no non-commercial data): `make reproduce-default
# VOICES=espeak`'s chain (train/reproduce_default.sh) in work-data/default-espeak, then what it is compared on beside
# the default chain: the real-voice dev suite (benchmarks/real_voice_dev.sh) and the default chain's two suites
# (work-data/default/suite-{test,holdout}: made by the default chain's `data synth` and `data suite` commands; every
# MBROLA voice in them is a voice family this bundle never heard), the listen latency, the TensorRT check and the
# packed teacher; the records are copied here.
source "$(dirname "$0")/../../pipeline/run-env.sh"
R=benchmarks/results/default-bundle-espeak
W=work-data/default-espeak
D=work-data/default
RV=work-data/real-voice-dev/suite
mkdir -p $W
pip freeze --exclude-editable > $R/pip-freeze.txt
dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data > $R/debian-packages.txt
# A finished chain (its record.json and bundle) is not run again: the chain resumes, but would export and score again.
if [ ! -f $W/record.json ] || [ ! -d $W/bundle ]; then
  echo "chain start $(date)"
  VOICES=espeak SLAP_EDGE=$(command -v slap-edge) bash train/reproduce_default.sh $W 2>&1 | tee -a $W/reproduce.log
  echo "chain done $(date)"
fi
B=$W/bundle
evals() {  # $1: bundle|teacher, $2: its folder
  [ -d $RV ] && slap-edge eval --suite $RV --model $2 --json $W/eval-$1-real.json --markdown $W/eval-$1-real.md
  for s in test holdout; do
    [ -d $D/suite-$s ] && slap-edge eval --suite $D/suite-$s --model $2 --json $W/eval-$1-mbrola-$s.json \
      --markdown $W/eval-$1-mbrola-$s.md
  done
}
copy() {
  cp $W/record.json $W/eval-*.json $W/eval-*.md $W/export.log $W/corpus-stats.txt $R/
  cp $B/MODEL_CARD.md $R/MODEL_CARD.md
  grep -E "train|distill|student|trained|teacher" $W/reproduce.log | tail -8 > $R/train-summary.txt
  # The chain's record.json has no provenance block: stamp one (the chain's commit, its student's hashes).
  python - $R/record.json $W/student $B <<'PY'
import datetime, json, sys
from pathlib import Path
from slap_edge.provenance import machine_label, model_hashes
path, student, bundle = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
record = json.loads(path.read_text(encoding="utf-8"))
made = datetime.datetime.fromtimestamp((bundle / "manifest.json").stat().st_mtime, datetime.timezone.utc)
record["provenance"] = {
    "date": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": f"{record['git_commit']} (the code that made it; stamped afterwards)",
    "made_by": "python -m slap_edge.export.card ... --record '(train/reproduce_default.sh VOICES=espeak via "
    "benchmarks/results/default-bundle-espeak/pipeline.sh)'",
    **model_hashes(student), "suite": "n/a", "suite_hash": "n/a", "machine": machine_label(),
}
path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
PY
}
evals bundle $B
slap-edge bench --bundle $B --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check $B > $R/trt-check.txt 2>&1 || true
[ -d $W/teacher-packed ] || python -m slap_edge.train.pack $W/teacher $W/teacher-packed
copy
evals teacher $W/teacher
copy
echo "all done $(date)"
